//! End-to-end tests of the workload: the real `kapture-worker` binary, run as processes
//! (order service, router, both sinks, load generator, verifier) against the test bench's
//! noida-db, Redis and Postgres on 127.0.0.1 (KAPTURE_TEST_KAFKA / _REDIS / _POSTGRES).
//! Each test uses its own topic prefix, Redis key prefix, Postgres schema and ports.
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const WORKER: &str = env!("CARGO_BIN_EXE_kapture-worker");
const TOTAL: u64 = 100_000;

/// A bench variable, refused when unset or empty as `tests/support::env` does in the plugin's
/// tests (that module needs the plugin's Kubernetes crates, which this package does not link).
fn bench_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!("{name} is not set: start the test bench (scripts/testbench/start.sh) and source its env file"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal HTTP/1.1 request on loopback; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    // A server may answer (413) and close before reading a large body: that is fine.
    let _ = s.write_all(body);
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    wait_or(what, timeout, &mut check, String::new)
}

fn wait_or(
    what: &str,
    timeout: Duration,
    check: &mut dyn FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One isolated flow: its names, its processes and their logs.
struct Flow {
    name: String,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    pg: tokio_postgres::Config,
    redis_url: String,
    api_port: u16,
    metrics: HashMap<&'static str, u16>,
    children: HashMap<&'static str, Child>,
    restarts: u32,
}

const ROLES: [&str; 4] = ["order-service", "router", "sink-postgres", "sink-redis"];

impl Flow {
    fn new(tag: &str) -> Self {
        let kafka = bench_var("KAPTURE_TEST_KAFKA");
        let redis_url = bench_var("KAPTURE_TEST_REDIS");
        let pg_url = bench_var("KAPTURE_TEST_POSTGRES");
        let pg = tokio_postgres::Config::from_str(&pg_url)
            .expect("KAPTURE_TEST_POSTGRES is a postgres:// URL");
        let host = match &pg.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            other => panic!("Postgres host must be TCP, got {other:?}"),
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("e2e_{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000);
        let mut env = vec![
            ("KAPTURE_KAFKA_BOOTSTRAP".to_string(), kafka),
            ("KAPTURE_REDIS_URL".into(), redis_url.clone()),
            ("KAPTURE_TOPIC_PREFIX".into(), format!("{name}.")),
            ("KAPTURE_REDIS_PREFIX".into(), format!("{name}:")),
            ("KAPTURE_POSTGRES_HOST".into(), host),
            (
                "KAPTURE_POSTGRES_PORT".into(),
                pg.get_ports().first().copied().unwrap_or(5432).to_string(),
            ),
            (
                "KAPTURE_POSTGRES_USER".into(),
                pg.get_user().unwrap_or("postgres").to_string(),
            ),
            (
                "KAPTURE_POSTGRES_DB".into(),
                pg.get_dbname().unwrap_or("postgres").to_string(),
            ),
            ("KAPTURE_POSTGRES_SCHEMA".into(), name.clone()),
            ("KAPTURE_PARTITIONS".into(), "3".into()),
            ("KAPTURE_LOG".into(), "info".into()),
        ];
        if let Some(pw) = pg.get_password() {
            env.push((
                "KAPTURE_POSTGRES_PASSWORD".into(),
                String::from_utf8_lossy(pw).into_owned(),
            ));
        }
        let metrics = ROLES
            .iter()
            .map(|r| (*r, free_port()))
            .chain([("loadgen", free_port())])
            .collect();
        Flow {
            name,
            dir: tempfile::tempdir().unwrap(),
            env,
            pg,
            redis_url,
            api_port: free_port(),
            metrics,
            children: HashMap::new(),
            restarts: 0,
        }
    }

    fn log_path(&self, role: &str) -> PathBuf {
        self.dir.path().join(format!("{role}.log"))
    }

    fn command(&self, role: &str) -> Command {
        let mut cmd = Command::new(WORKER);
        cmd.arg(role).envs(self.env.iter().map(|(k, v)| (k, v)));
        // Flags, not env, for the listeners: exercises both ways of configuring.
        if let Some(port) = self.metrics.get(role) {
            cmd.arg("--metrics-listen").arg(format!("127.0.0.1:{port}"));
        }
        if role == "order-service" {
            cmd.arg("--listen")
                .arg(format!("127.0.0.1:{}", self.api_port));
        } else {
            // Static group membership, as a StatefulSet pod name would give: a restarted
            // consumer takes its predecessor's place (noida-db never expires a member that
            // died without leaving the group, so a fresh member would wait forever).
            cmd.env("KAPTURE_GROUP_INSTANCE_ID", format!("{role}-0"));
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(role))
            .unwrap();
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        cmd
    }

    fn start(&mut self, role: &'static str) {
        let child = self
            .command(role)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {role}: {e}"));
        self.children.insert(role, child);
    }

    fn wait_ready(&self, role: &str) {
        let port = self.metrics[role];
        wait_until(&format!("{role} /readyz"), Duration::from_secs(60), || {
            matches!(http(port, "GET", "/readyz", b""), Ok((200, _)))
        });
    }

    fn start_all(&mut self) {
        for role in ROLES {
            self.start(role);
        }
        for role in ROLES {
            self.wait_ready(role);
        }
    }

    fn kill9(&mut self, role: &'static str) {
        let mut child = self.children.remove(role).expect("role running");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    fn restart(&mut self, role: &'static str) {
        self.restarts += 1;
        self.start(role);
    }

    /// SIGTERM every role and expect a clean exit (graceful shutdown).
    fn stop_all(&mut self) -> Vec<(&'static str, ExitStatus)> {
        let mut out = Vec::new();
        for child in self.children.values() {
            Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .unwrap();
        }
        for (role, mut child) in self.children.drain() {
            let deadline = Instant::now() + Duration::from_secs(30);
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if Instant::now() > deadline {
                    child.kill().unwrap();
                    break child.wait().unwrap();
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            out.push((role, status));
        }
        out
    }

    fn loadgen(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(WORKER);
        cmd.arg("loadgen")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "KAPTURE_ORDER_SERVICE_URL",
                format!("http://127.0.0.1:{}", self.api_port),
            )
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{}", self.metrics["loadgen"]))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(self.log_path("loadgen")).unwrap());
        cmd
    }

    /// Runs a load generator to completion (bounded) and returns its JSON summary.
    fn run_loadgen(&self, child: Child, timeout: Duration) -> Value {
        let output = wait_output(child, timeout);
        assert!(
            output.0.success(),
            "loadgen failed: {:?}\n{}",
            output.0,
            self.logs()
        );
        serde_json::from_str(output.1.trim())
            .unwrap_or_else(|e| panic!("loadgen summary {:?}: {e}", output.1))
    }

    fn verify(&self, args: &[&str]) -> (i32, Value) {
        let out = Command::new(WORKER)
            .arg("verify")
            .args(["-o", "json", "--topics"])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify output ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, report)
    }

    fn ack_file(&self) -> PathBuf {
        self.dir.path().join("acked.txt")
    }

    fn pg_count(&self) -> u64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = self.pg.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let sql = format!("SELECT count(*) FROM {}.transactions", self.name);
            match client.query_one(&sql, &[]).await {
                Ok(row) => row.get::<_, i64>(0) as u64,
                Err(_) => 0, // table not created yet
            }
        })
    }

    fn redis_processed(&self) -> u64 {
        let client = redis::Client::open(self.redis_url.as_str()).unwrap();
        let mut conn = client.get_connection().unwrap();
        redis::cmd("SCARD")
            .arg(format!("{}:sink:processed", self.name))
            .query(&mut conn)
            .unwrap()
    }

    fn metrics_text(&self, role: &str) -> String {
        http(self.metrics[role], "GET", "/metrics", b"").unwrap().1
    }

    /// Waits until Postgres and the Redis sink both hold at least `n` transactions.
    fn wait_drained(&self, n: u64) {
        let context = || {
            format!(
                "postgres rows {}, redis processed {}\n{}",
                self.pg_count(),
                self.redis_processed(),
                self.logs()
            )
        };
        let limit = Duration::from_secs(300);
        wait_or(
            "Postgres to hold every transaction",
            limit,
            &mut || self.pg_count() >= n,
            context,
        );
        wait_or(
            "the Redis sink to count every transaction",
            limit,
            &mut || self.redis_processed() >= n,
            context,
        );
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for role in ROLES.iter().chain(&["loadgen"]) {
            let text = std::fs::read_to_string(self.log_path(role)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out += &format!("--- {role} (last lines)\n");
            for l in tail.into_iter().rev() {
                out += l;
                out.push('\n');
            }
        }
        out
    }

    fn cleanup(&mut self) {
        for (_, mut c) in self.children.drain() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok((client, conn)) = self.pg.connect(tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
                    .await;
            }
        });
        if let Ok(client) = redis::Client::open(self.redis_url.as_str()) {
            if let Ok(mut conn) = client.get_connection() {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{}:*", self.name))
                    .query(&mut conn)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
                }
            }
        }
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Waits (bounded) for a child, returning its status and stdout.
fn wait_output(mut child: Child, timeout: Duration) -> (ExitStatus, String) {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("process did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (status, reader.join().unwrap())
}

fn metric(text: &str, needle: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

fn assert_integrity(flow: &Flow, report: &Value, acked: u64) {
    let ctx = || format!("report: {report:#}\n{}", flow.logs());
    assert_eq!(report["acked"], acked, "{}", ctx());
    assert_eq!(report["lost"], 0, "{}", ctx());
    assert_eq!(report["duplicated"], 0, "{}", ctx());
    assert_eq!(report["ok"], true, "{}", ctx());
    assert_eq!(report["aggregates_match"], true, "{}", ctx());
    let states = report["states"].as_array().unwrap();
    let pg_sum: u64 = states.iter().map(|s| s["postgres"].as_u64().unwrap()).sum();
    let redis_sum: u64 = states.iter().map(|s| s["redis"].as_u64().unwrap()).sum();
    assert_eq!(pg_sum, report["postgres_rows"].as_u64().unwrap());
    assert_eq!(redis_sum, pg_sum, "{}", ctx());
    assert!(
        states.len() > 1,
        "transactions should spread over several states: {}",
        ctx()
    );
}

#[test]
fn pipeline_delivers_every_acknowledged_transaction() {
    let mut flow = Flow::new("clean");
    flow.start_all();

    // Bad input is rejected with a reason and counted.
    let (status, body) = http(flow.api_port, "POST", "/transactions", br#"{"id": 1}"#).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid transaction JSON"), "{body}");
    let (status, _) = http(
        flow.api_port,
        "POST",
        "/transactions",
        &vec![b'x'; 100 * 1024],
    )
    .unwrap();
    assert_eq!(status, 413);
    let text = flow.metrics_text("order-service");
    assert_eq!(
        metric(
            &text,
            "kapture_requests_rejected_total{role=\"order-service\",reason=\"invalid\"}"
        ),
        1,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "kapture_requests_rejected_total{role=\"order-service\",reason=\"too_large\"}"
        ),
        1,
        "{text}"
    );

    let started = Instant::now();
    let ack = flow.ack_file();
    let child = flow
        .loadgen(&[
            "--rate",
            "0",
            "--concurrency",
            "64",
            "--count",
            &TOTAL.to_string(),
            "--ack-file",
            ack.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let summary = flow.run_loadgen(child, Duration::from_secs(600));
    eprintln!("loadgen: {summary}  ({:?})", started.elapsed());
    assert_eq!(summary["sent"], TOTAL);
    assert_eq!(
        summary["acked"],
        TOTAL,
        "every request should be acknowledged: {summary}\n{}",
        flow.logs()
    );

    flow.wait_drained(TOTAL);
    eprintln!("pipeline drained after {:?}", started.elapsed());

    let (code, report) = flow.verify(&["--ack-file", ack.to_str().unwrap()]);
    assert_eq!(code, 0, "{report:#}");
    assert_integrity(&flow, &report, TOTAL);
    assert_eq!(report["unexpected"], 0);
    assert_eq!(report["postgres_rows"], TOTAL);
    // Without restarts the router writes each transaction exactly once.
    assert_eq!(report["topic_messages_total"], TOTAL, "{report:#}");

    let router = flow.metrics_text("router");
    assert_eq!(
        metric(&router, "kapture_messages_produced_total{role=\"router\"}"),
        TOTAL,
        "{router}"
    );

    for (role, status) in flow.stop_all() {
        assert!(
            status.success(),
            "{role} did not shut down cleanly on SIGTERM: {status:?}\n{}",
            flow.logs()
        );
    }
}

#[test]
fn chaos_kills_lose_and_duplicate_nothing() {
    let mut flow = Flow::new("chaos");
    flow.start_all();
    let started = Instant::now();
    // Paced so the run lasts long enough for several kills; acks go to Redis this time.
    let child = flow
        .loadgen(&[
            "--rate",
            "2500",
            "--concurrency",
            "64",
            "--count",
            &TOTAL.to_string(),
            "--ack-redis",
            "--seed",
            "42",
        ])
        .spawn()
        .unwrap();

    for round in 0..3 {
        for victim in ["router", "sink-postgres"] {
            std::thread::sleep(Duration::from_secs(4));
            flow.kill9(victim);
            std::thread::sleep(Duration::from_millis(500));
            flow.restart(victim);
            eprintln!(
                "round {round}: killed and restarted {victim} at {:?}",
                started.elapsed()
            );
        }
    }
    let summary = flow.run_loadgen(child, Duration::from_secs(600));
    eprintln!("loadgen: {summary}  ({:?})", started.elapsed());
    let acked = summary["acked"].as_u64().unwrap();
    assert_eq!(
        acked, TOTAL,
        "the order service stayed up, so every request should be acknowledged: {summary}"
    );
    assert_eq!(flow.restarts, 6);

    flow.wait_drained(acked);
    eprintln!("pipeline drained after {:?}", started.elapsed());

    let (code, report) = flow.verify(&["--ack-redis"]);
    assert_eq!(code, 0, "{report:#}\n{}", flow.logs());
    assert_integrity(&flow, &report, acked);
    // Redelivery after a kill may write a transaction to its state topic twice; never less.
    assert!(
        report["topic_messages_total"].as_u64().unwrap() >= acked,
        "{report:#}"
    );
    eprintln!(
        "chaos: topic messages {} for {} transactions (redelivered by killed routers)",
        report["topic_messages_total"], acked
    );
}

/// Guards the verifier itself: with an aggregate counted twice it must fail (exit 1).
/// The load is produced with `--direct`, so this also covers the direct mode's acks.
#[test]
fn verify_reports_duplicates_and_losses() {
    let mut flow = Flow::new("verify");
    flow.start_all();
    let ack = flow.ack_file();
    let child = flow
        .loadgen(&[
            "--direct",
            "--rate",
            "0",
            "--count",
            "500",
            "--ack-file",
            ack.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let summary = flow.run_loadgen(child, Duration::from_secs(120));
    assert_eq!(summary["acked"], 500);
    flow.wait_drained(500);
    let (code, report) = flow.verify(&["--ack-file", ack.to_str().unwrap()]);
    assert_eq!((code, &report["ok"]), (0, &Value::Bool(true)), "{report:#}");

    // Count one transaction twice in Redis, and claim an acknowledgement that never landed.
    let client = redis::Client::open(flow.redis_url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let state = report["states"][0]["state"].as_str().unwrap().to_string();
    let _: i64 = redis::cmd("HINCRBY")
        .arg(format!("{}:agg:state:count", flow.name))
        .arg(&state)
        .arg(1)
        .query(&mut conn)
        .unwrap();
    File::options()
        .append(true)
        .open(&ack)
        .unwrap()
        .write_all(b"never-landed\n")
        .unwrap();

    let (code, report) = flow.verify(&["--ack-file", ack.to_str().unwrap()]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64()),
        (Some(1), Some(1)),
        "{report:#}"
    );
    assert_eq!(report["lost_sample"][0], "never-landed");
    assert_eq!(report["aggregates_match"], false);
}

/// Without a reachable Kafka the order service is not ready and answers 503 (counted).
#[test]
fn order_service_answers_503_without_kafka() {
    let mut flow = Flow::new("nokafka");
    let dead = free_port().to_string();
    for (k, v) in flow.env.iter_mut() {
        if k == "KAPTURE_KAFKA_BOOTSTRAP" {
            *v = format!("127.0.0.1:{dead}");
        }
    }
    flow.start("order-service");
    let payload = flow.dir.path().join("one.jsonl");
    let status = Command::new(WORKER)
        .args([
            "loadgen",
            "--dump",
            payload.to_str().unwrap(),
            "--count",
            "1",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let body = std::fs::read(&payload).unwrap();
    let api = flow.api_port;
    wait_until(
        "the order service to listen",
        Duration::from_secs(30),
        || http(api, "GET", "/healthz", b"").is_ok(),
    );
    let (status, _) = http(api, "GET", "/readyz", b"").unwrap();
    assert_eq!(status, 503, "not ready without Kafka");
    let (status, answer) = http(api, "POST", "/transactions", body.trim_ascii_end()).unwrap();
    assert_eq!(status, 503, "{answer}\n{}", flow.logs());
    assert!(answer.contains("Kafka"), "{answer}");
    let text = flow.metrics_text("order-service");
    let unavailable =
        "kapture_requests_rejected_total{role=\"order-service\",reason=\"unavailable\"}";
    assert_eq!(metric(&text, unavailable), 1, "{text}");
}
