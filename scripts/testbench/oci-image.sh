#!/usr/bin/env bash
# Write an OCI image archive from root filesystem directories, without a registry or a daemon.
#
#   oci-image.sh [options] NAME:TAG OUT.tar [LAYER_DIR...]
#     --from BASE.tar     start from an archive this script wrote: its layers and config are kept
#     --entrypoint JSON   e.g. '["/usr/local/bin/kapture-worker"]'
#     --cmd JSON          e.g. '["redis-server"]'
#     --user U            e.g. 65532:65532
#     --workdir DIR
#     --env K=V           repeatable; replaces the base's value of K
#     --stop-signal SIG   what stopping a container sends (containerd's CRI honours it), e.g.
#                         SIGINT as the official postgres image sets; default SIGTERM
#
# Each LAYER_DIR becomes one uncompressed layer, first = bottom. Tar output is reproducible
# (sorted names, numeric owners, no times but mtimes), so the same directory gives the same
# digest and images built on one base share its layer in containerd. Options not given keep
# --from's values. Import with `ctr -a SOCKET -n k8s.io images import OUT.tar`.
# NAME needs a registry-like prefix (localhost/...) and a tag other than latest: with :latest the
# kubelet's default pull policy is Always, and no pull can succeed on the bench.
set -euo pipefail

entrypoint=- cmd=- user=- workdir=- stop_signal=- from="" envs=()
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in
    --entrypoint) entrypoint=$2 ;;
    --cmd) cmd=$2 ;;
    --user) user=$2 ;;
    --workdir) workdir=$2 ;;
    --stop-signal) stop_signal=$2 ;;
    --env) envs+=("$2") ;;
    --from) from="$(realpath "$2")" ;;
    *) echo "oci-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
if [[ $# -lt 2 || ( $# -lt 3 && -z "$from" ) ]]; then
  sed -n '2,19p' "$0" >&2
  exit 2
fi
name=$1 out="$(realpath -m "$2")"
shift 2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
[[ -z "$from" ]] || tar -C "$work" -xf "$from" blobs index.json

layers=()
for dir in "$@"; do
  [[ -d "$dir" ]] || { echo "oci-image.sh: not a directory: $dir" >&2; exit 2; }
  # /dev, /proc, /sys and /run belong to the runtime: keep the directories, not their contents.
  tar -C "$dir" --numeric-owner --xattrs --sort=name --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
    -cf "$work/layer.tar" .
  digest="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  mv "$work/layer.tar" "$work/blobs/sha256/$digest"
  layers+=("$digest")
done

python3 - "$work" "$name" "$entrypoint" "$cmd" "$user" "$workdir" "$stop_signal" \
  ${layers[@]+"${layers[@]}"} -- ${envs[@]+"${envs[@]}"} <<'PY'
import hashlib, json, os, sys

args = sys.argv[1:]
split = args.index("--")
work, name, entrypoint, cmd, user, workdir, stop_signal, *layers = args[:split]
envs = args[split + 1:]
blobs = os.path.join(work, "blobs", "sha256")

def read_blob(digest):
    with open(os.path.join(blobs, digest.split(":", 1)[1])) as f:
        return json.load(f)

def write_blob(obj):
    data = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}

base_layers, base_diffs, base = [], [], {}
index_path = os.path.join(work, "index.json")
if os.path.exists(index_path):
    with open(index_path) as f:
        manifest = read_blob(json.load(f)["manifests"][0]["digest"])
    base_layers = manifest["layers"]
    base_config = read_blob(manifest["config"]["digest"])
    base, base_diffs = base_config.get("config", {}), base_config["rootfs"]["diff_ids"]

keys = {e.split("=", 1)[0] for e in envs}
env = [e for e in base.get("Env") or [] if e.split("=", 1)[0] not in keys] + envs
if not any(e.startswith("PATH=") for e in env):
    env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")

def pick(given, key, default, parse=lambda v: v):
    return base.get(key, default) if given == "-" else parse(given)

image_config = {
    "Env": env,
    "Entrypoint": pick(entrypoint, "Entrypoint", None, json.loads),
    "Cmd": pick(cmd, "Cmd", None, json.loads),
    "User": pick(user, "User", ""),
    "WorkingDir": pick(workdir, "WorkingDir", "/") or "/",
}
signal = pick(stop_signal, "StopSignal", None)
if signal:
    image_config["StopSignal"] = signal
config = {
    "architecture": "amd64",
    "os": "linux",
    "config": image_config,
    "rootfs": {"type": "layers", "diff_ids": base_diffs + ["sha256:" + d for d in layers]},
    "history": [{"created_by": "scripts/testbench/oci-image.sh"} for _ in base_diffs + layers],
}
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **write_blob(config)},
    "layers": base_layers + [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + d,
         "size": os.path.getsize(os.path.join(blobs, d))}
        for d in layers
    ],
}
tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
index = {
    "schemaVersion": 2,
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **write_blob(manifest),
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
    }],
}
with open(index_path, "w") as f:
    json.dump(index, f)
with open(os.path.join(work, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
PY

tar -C "$work" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "oci-image.sh: wrote $out ($(du -h "$out" | cut -f1)) for $name" >&2
