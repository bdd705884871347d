#!/usr/bin/env python3
"""Cluster DNS for the bench's node without CoreDNS: a dnsmasq --hostsdir file kept in step
with the API server.

usage: dns-sync.py API_URL TOKEN_FILE CA_FILE OUT_FILE

Once a second it lists Services, Endpoints and Pods and writes hosts lines:
  <clusterIP>          <svc>.<ns>.svc.cluster.local               (Services with a ClusterIP)
  <ready address>      <svc>.<ns>.svc.cluster.local               (headless: one line per address)
  <ready address>      <hostname>.<svc>.<ns>.svc.cluster.local    (headless: StatefulSet pods)
  <podIP>              <a-b-c-d>.<ns>.pod.cluster.local
dnsmasq rereads the file when it changes and answers A and PTR queries. No SRV records and no
ExternalName Services. Only the standard library.
"""
import json
import os
import ssl
import sys
import time
import urllib.request

DOMAIN = "cluster.local"
api, token_file, ca_file, out = sys.argv[1:5]
with open(token_file) as f:
    token = f.read().strip()
context = ssl.create_default_context(cafile=ca_file)


def items(path):
    request = urllib.request.Request(api + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.load(response)["items"]


def hosts():
    endpoints = {(e["metadata"]["namespace"], e["metadata"]["name"]): e
                 for e in items("/api/v1/endpoints")}
    lines = set()
    for service in items("/api/v1/services"):
        ns, name, spec = service["metadata"]["namespace"], service["metadata"]["name"], service["spec"]
        fqdn = f"{name}.{ns}.svc.{DOMAIN}"
        if spec.get("type") == "ExternalName":
            continue
        cluster_ip = spec.get("clusterIP")
        if cluster_ip and cluster_ip != "None":
            lines.add(f"{cluster_ip} {fqdn}")
            continue
        for subset in (endpoints.get((ns, name)) or {}).get("subsets") or []:
            for address in subset.get("addresses") or []:
                lines.add(f"{address['ip']} {fqdn}")
                if address.get("hostname"):
                    lines.add(f"{address['ip']} {address['hostname']}.{fqdn}")
    for pod in items("/api/v1/pods"):
        ip = (pod.get("status") or {}).get("podIP")
        if ip and not pod["spec"].get("hostNetwork"):
            lines.add(f"{ip} {ip.replace('.', '-')}.{pod['metadata']['namespace']}.pod.{DOMAIN}")
    return "".join(line + "\n" for line in sorted(lines))


last = None
while True:
    try:
        text = hosts()
        if text != last:
            # Written beside the watched directory, then renamed into it: dnsmasq never reads
            # half a file.
            staging = os.path.dirname(out) + ".tmp"
            with open(staging, "w") as f:
                f.write(text)
            os.chmod(staging, 0o644)
            os.replace(staging, out)
            last = text
    except Exception as error:  # the API server may be away for a moment: keep the last file
        print(f"dns-sync: {error}", file=sys.stderr, flush=True)
    time.sleep(1)
