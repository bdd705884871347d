//! End-to-end tests of the workload: the real `kapture-worker` binary, run as processes
//! (order service, router, the sinks, load generator, verifier) against the test bench's
//! noida-db, Redis and Postgres on 127.0.0.1 (KAPTURE_TEST_KAFKA / _REDIS / _POSTGRES), and
//! for the MongoDB sink noida-db's MongoDB protocol (KAPTURE_TEST_MONGO_URL).
//! Each test uses its own topic prefix, Redis key prefix, Postgres schema, Mongo database and
//! ports.
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

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
    wait_every(what, timeout, Duration::from_millis(250), check, context)
}

/// [`wait_or`] looking every `every`: a check that costs the server real work (a count on
/// noida-db's MongoDB protocol scans the whole collection) must not compete with the flow.
fn wait_every(
    what: &str,
    timeout: Duration,
    every: Duration,
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
        std::thread::sleep(every);
    }
}

/// The exit code and JSON report of a `verify` run.
fn verdict(out: &std::process::Output) -> (i32, Value) {
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
    /// The long-running roles `start_all` starts.
    roles: Vec<&'static str>,
    /// The bench's MongoDB URL, when the flow includes the Mongo sink.
    mongo_url: Option<String>,
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
            .chain(&["sink-mongo"])
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
            roles: ROLES.to_vec(),
            mongo_url: None,
        }
    }

    /// The same flow with the MongoDB sink too (verify then reads Mongo as well).
    fn with_mongo(tag: &str) -> Self {
        let mut flow = Flow::new(tag);
        let url = bench_var("KAPTURE_TEST_MONGO_URL");
        flow.env.extend([
            ("KAPTURE_MONGO_URL".to_string(), url.clone()),
            ("KAPTURE_MONGO_DB".into(), flow.name.clone()),
        ]);
        flow.roles.push("sink-mongo");
        flow.mongo_url = Some(url);
        flow
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

    /// The topic Job's part: every topic of the flow, before any role starts.
    fn create_topics(&self) {
        let out = Command::new(WORKER)
            .args(["create-topics", "--timeout", "60s"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "create-topics failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start_all(&mut self) {
        self.create_topics();
        for role in self.roles.clone() {
            self.start(role);
        }
        for role in &self.roles {
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

    fn verify_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(WORKER);
        cmd.arg("verify")
            .args(["-o", "json", "--topics"])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn verify(&self, args: &[&str]) -> (i32, Value) {
        verdict(&self.verify_command(args).output().unwrap())
    }

    fn ack_file(&self) -> PathBuf {
        self.dir.path().join("acked.txt")
    }

    /// Runs `f` with a connection to the bench's Postgres.
    fn with_pg<T>(&self, f: impl AsyncFnOnce(tokio_postgres::Client) -> T) -> Option<T> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = self.pg.connect(tokio_postgres::NoTls).await.ok()?;
            tokio::spawn(conn);
            Some(f(client).await)
        })
    }

    /// Runs `f` with the flow's database on the bench's MongoDB, connected as the sink connects.
    fn with_mongo_db<T>(&self, f: impl AsyncFnOnce(mongodb::Database) -> T) -> Option<T> {
        let url = self.mongo_url.as_deref()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let args = kapture_worker::cli::MongoArgs {
            mongo_user: None,
            mongo_password: None,
            mongo_db: self.name.clone(),
            mongo_timeout: Duration::from_secs(10),
        };
        rt.block_on(async {
            let mongo = kapture_worker::sink_mongo::Mongo::connect(url, &args)
                .await
                .ok()?;
            Some(f(mongo.db).await)
        })
    }

    /// Documents the Mongo sink has stored (noida-db has no `count`: a `$group` does it).
    fn mongo_count(&self) -> u64 {
        self.with_mongo_db(async |db| {
            let reply = db
                .run_command(mongodb::bson::doc! {
                    "aggregate": "transactions",
                    "pipeline": [{"$group": {"_id": null, "n": {"$sum": 1}}}],
                    "cursor": {},
                })
                .await
                .ok()?;
            let first = reply
                .get_document("cursor")
                .ok()?
                .get_array("firstBatch")
                .ok()?;
            let n = first.first()?.as_document()?.get("n")?;
            n.as_i32()
                .map(i64::from)
                .or(n.as_i64())
                .or(n.as_f64().map(|f| f as i64))
                .map(|n| n as u64)
        })
        .flatten()
        .unwrap_or(0)
    }

    fn pg_count(&self) -> u64 {
        let sql = format!("SELECT count(*) FROM {}.transactions", self.name);
        self.with_pg(async |client| match client.query_one(&sql, &[]).await {
            Ok(row) => row.get::<_, i64>(0) as u64,
            Err(_) => 0, // table not created yet
        })
        .expect("connecting to the bench's Postgres")
    }

    /// Transactions the Redis sink has counted (the sum of its per-state counts).
    fn redis_processed(&self) -> u64 {
        let client = redis::Client::open(self.redis_url.as_str()).unwrap();
        let mut conn = client.get_connection().unwrap();
        let counts: Vec<u64> = redis::cmd("HVALS")
            .arg(format!("{}:agg:state:count", self.name))
            .query(&mut conn)
            .unwrap();
        counts.iter().sum()
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
        if self.mongo_url.is_some() {
            // Each count scans the collection, while the sink's look-ups scan it too: at 250 ms
            // the counts alone kept noida-db busy (58,000 of 100,000 after 5 minutes in CI).
            // noida-db's look-ups cost ids x stored documents: 100,000 took 80 s of look-ups
            // and 39 s of inserts in a run with no other test, and CI's concurrent tests left 11,403
            // undrained after 300 s; twice that is the bound.
            wait_every(
                "MongoDB to hold every transaction",
                limit * 2,
                Duration::from_secs(5),
                &mut || self.mongo_count() >= n,
                || format!("mongo documents {}\n{}", self.mongo_count(), self.logs()),
            );
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for role in self.roles.iter().chain(&["loadgen"]) {
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
        // noida-db has no dropDatabase: empty the collection (it holds the data in memory).
        if self.mongo_url.is_some() {
            let _ = self.with_mongo_db(async |db| {
                db.run_command(mongodb::bson::doc! {
                    "delete": "transactions", "deletes": [{"q": {}, "limit": 0}]
                })
                .await
            });
        }
        let drop_schema = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = self.with_pg(async |client| client.batch_execute(&drop_schema).await);
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
    assert!(body.contains("id: invalid type"), "{body}");
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
            "kapture_requests_rejected_total{role=\"order-service\",reason=\"id\"}"
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
    let load = |flow: &Flow, count: u64| {
        let args = [
            "--direct",
            "--rate",
            "0",
            "--count",
            &count.to_string(),
            "--ack-file",
        ];
        let child = flow.loadgen(&args).arg(&ack).spawn().unwrap();
        let summary = flow.run_loadgen(child, Duration::from_secs(120));
        assert_eq!(summary["acked"], count, "{summary}");
    };
    load(&flow, 500);
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

    // With --settle, a verdict that stopped changing is final only once the sinks have nothing
    // left: a sink that is down (restarting, or in a crash-loop back-off) is waited for.
    flow.kill9("sink-postgres");
    load(&flow, 50);
    let started = Instant::now();
    let verifying = flow
        .verify_command(&["--ack-file", ack.to_str().unwrap(), "--settle", "120s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Past the 20 s without progress that would otherwise end the wait.
    std::thread::sleep(Duration::from_secs(30));
    flow.restart("sink-postgres");
    let out = verifying.wait_with_output().unwrap();
    let (code, report) = verdict(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, 1, "{report:#}\n{log}");
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64()),
        (Some(1), Some(1)),
        "the 50 the sink had left are in Postgres: {report:#}\n{log}"
    );
    assert!(
        log.contains("uncommitted=50"),
        "the wait names what the groups had left: {log}"
    );
    eprintln!("verify --settle ended after {:?}", started.elapsed());
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

/// One generated transaction as JSON, to mutate into hostile ones.
fn sample_transaction(flow: &Flow) -> Value {
    let path = flow.dir.path().join("sample.jsonl");
    let status = Command::new(WORKER)
        .args(["loadgen", "--dump", path.to_str().unwrap(), "--count", "1"])
        .status()
        .unwrap();
    assert!(status.success());
    serde_json::from_slice(std::fs::read(&path).unwrap().trim_ascii_end()).unwrap()
}

/// Produces raw messages straight to a topic, as another producer would.
fn produce_raw(topic: &str, messages: &[(&str, Vec<u8>)]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bench_var("KAPTURE_TEST_KAFKA"))
        .create()
        .unwrap();
    for (key, payload) in messages {
        producer
            .send(BaseRecord::to(topic).key(*key).payload(payload))
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

fn dead_lettered(report: &Value, role: &str, reason: &str) -> u64 {
    report["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["role"] == role && c["reason"] == reason)
        .map(|c| c["messages"].as_u64().unwrap())
        .sum()
}

/// What a client may send, the flow survives: hostile requests get a 400 naming the field;
/// poison that reaches Kafka anyway (another producer, a database rule the validation does not
/// know, a store's revenue at its limit) is dead-lettered by the role that cannot handle it,
/// and the run around it loses nothing.
#[test]
fn hostile_input_is_refused_or_dead_lettered_and_nothing_is_lost() {
    let mut flow = Flow::new("hostile");
    // Postgres refuses store 13 as data (SQLSTATE 23514): the sink must find those rows
    // and dead-letter them. Redis has store 7 past the revenue limit: the script must refuse it.
    let create = kapture_worker::sink_postgres::create_sql(&flow.name);
    let constraint = format!(
        "ALTER TABLE {}.transactions ADD CONSTRAINT no_store_13 CHECK (store_id <> 13)",
        flow.name
    );
    flow.with_pg(async |client| {
        client.batch_execute(&create).await.unwrap();
        client.batch_execute(&constraint).await.unwrap();
    })
    .expect("connecting to the bench's Postgres");
    let redis = redis::Client::open(flow.redis_url.as_str()).unwrap();
    let mut rconn = redis.get_connection().unwrap();
    let revenue_key = format!("{}:agg:store:revenue_cents", flow.name);
    let _: () = redis::cmd("HSET")
        .arg(&revenue_key)
        .arg("7")
        .arg("9100000000000000000")
        .query(&mut rconn)
        .unwrap();
    flow.start_all();

    let base = sample_transaction(&flow);
    let hostile: Vec<(&str, Value, &str)> = vec![
        ("/time", json!("0000-01-01T00:00:00Z"), "time"),
        ("/store/id", json!((1u64 << 63) + 5), "store.id"),
        ("/customer/id", json!(u64::MAX), "customer.id"),
        (
            "/items/0/price_cents",
            json!(1u64 << 63),
            "items.price_cents",
        ),
        ("/items/0/price_cents", json!(2.5), "items.price_cents"),
        ("/items/0/quantity", json!(-1), "items.quantity"),
        (
            "/total_cents",
            json!(5_000_000_000_000_000_000u64),
            "total_cents",
        ),
        ("/store/location/state", json!("ZZ"), "store.location.state"),
        (
            "/customer/location/state",
            json!("PR"),
            "customer.location.state",
        ),
        ("/customer/name", json!("nul\u{0}byte"), "customer.name"),
        ("/id", json!("x".repeat(129)), "id"),
        ("/extra", json!(1), "json"),
    ];
    let mut expected: HashMap<&str, u64> = HashMap::new();
    for (pointer, value, field) in &hostile {
        let mut body = base.clone();
        match body.pointer_mut(pointer) {
            Some(slot) => *slot = value.clone(),
            None => body["extra"] = value.clone(),
        }
        let (status, answer) = http(
            flow.api_port,
            "POST",
            "/transactions",
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(status, 400, "{pointer} = {value}: {answer}");
        let message: Value = serde_json::from_str(&answer).unwrap();
        let message = message["error"].as_str().unwrap();
        let named = field.split('.').next_back().unwrap();
        assert!(
            *field == "json" || message.contains(named),
            "{pointer}: {message:?} should name {field}"
        );
        *expected.entry(field).or_default() += 1;
    }
    let text = flow.metrics_text("order-service");
    for (field, n) in &expected {
        let series =
            format!("kapture_requests_rejected_total{{role=\"order-service\",reason=\"{field}\"}}");
        assert_eq!(metric(&text, &series), *n, "{series}\n{text}");
    }

    // Poison from another producer: into `transactions` (the router's input) and straight
    // into a per-state topic (both sinks' input).
    let mut old = base.clone();
    old["time"] = json!("0000-01-01T00:00:00Z");
    let old_bytes = |id: &str| {
        let mut v = old.clone();
        v["id"] = json!(id);
        v.to_string().into_bytes()
    };
    produce_raw(
        &format!("{}.transactions", flow.name),
        &[
            ("poison-json", b"not json".to_vec()),
            ("poison-router", old_bytes("poison-router")),
        ],
    );
    produce_raw(
        &format!("{}.transactions.ca", flow.name),
        &[("poison-sinks", old_bytes("poison-sinks"))],
    );

    let ack = flow.ack_file();
    let count = 20_000u64;
    let child = flow
        .loadgen(&[
            "--rate",
            "0",
            "--concurrency",
            "32",
            "--count",
            &count.to_string(),
            "--ack-file",
            ack.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let summary = flow.run_loadgen(child, Duration::from_secs(300));
    assert_eq!(summary["acked"], count, "{summary}");

    // Every routed message and the direct poison consumed by the Redis sink: store 7 is
    // refused by now, so its revenue field can go back to what the flow itself wrote (none).
    let consumed = |role: &str| {
        metric(
            &flow.metrics_text(role),
            &format!("kapture_messages_consumed_total{{role=\"{role}\"}}"),
        )
    };
    wait_or(
        "the sinks to consume every message",
        Duration::from_secs(300),
        &mut || consumed("sink-redis") > count && consumed("sink-postgres") > count,
        || flow.logs(),
    );
    let _: () = redis::cmd("HDEL")
        .arg(&revenue_key)
        .arg("7")
        .query(&mut rconn)
        .unwrap();

    let (code, report) = flow.verify(&["--ack-file", ack.to_str().unwrap(), "--settle", "60s"]);
    let ctx = || format!("{report:#}\n{}", flow.logs());
    assert_eq!(code, 0, "{}", ctx());
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{}",
        ctx()
    );
    assert_eq!(report["aggregates_match"], true, "{}", ctx());
    assert_eq!(dead_lettered(&report, "router", "json"), 1, "{}", ctx());
    assert_eq!(dead_lettered(&report, "router", "time"), 1, "{}", ctx());
    assert_eq!(
        dead_lettered(&report, "sink-postgres", "time"),
        1,
        "{}",
        ctx()
    );
    assert_eq!(dead_lettered(&report, "sink-redis", "time"), 1, "{}", ctx());
    let refused_by_postgres = dead_lettered(&report, "sink-postgres", "postgres");
    let refused_by_redis = dead_lettered(&report, "sink-redis", "store_revenue_overflow");
    assert!(refused_by_postgres > 0 && refused_by_redis > 0, "{}", ctx());
    // Acknowledged and dead-lettered: accounted for, not lost.
    assert_eq!(
        report["dead_lettered_acked"].as_u64().unwrap(),
        refused_by_postgres + refused_by_redis,
        "{}",
        ctx()
    );
    assert_eq!(
        report["postgres_rows"].as_u64().unwrap() + refused_by_postgres,
        count,
        "{}",
        ctx()
    );
    let sink_pg = flow.metrics_text("sink-postgres");
    assert_eq!(
        metric(
            &sink_pg,
            "kapture_messages_dead_lettered_total{role=\"sink-postgres\",reason=\"postgres\"}"
        ),
        refused_by_postgres,
        "{sink_pg}"
    );
    eprintln!(
        "hostile: {} requests refused, dead-lettered: router 2, sink-postgres {}, sink-redis {}",
        hostile.len(),
        refused_by_postgres + 1,
        refused_by_redis + 1
    );
    // Nobody crash-looped on the poison: every role is still the process it was.
    let exited: Vec<&str> = flow
        .children
        .iter_mut()
        .filter_map(|(role, child)| child.try_wait().unwrap().map(|_| *role))
        .collect();
    assert!(exited.is_empty(), "{exited:?} exited\n{}", flow.logs());
    for (role, status) in flow.stop_all() {
        assert!(status.success(), "{role}: {status:?}");
    }
}

/// A TCP proxy to a real server that can stop forwarding while keeping its connections open
/// (a server that hangs rather than one that is gone), or cut every connection and refuse new
/// ones (a server that is gone).
struct Proxy {
    port: u16,
    /// 0 forwarding, 1 frozen, 2 cut.
    state: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl Proxy {
    fn start(target: (String, u16)) -> Self {
        Self::start_on(0, target)
    }

    /// On a given port (0: any free one).
    fn start_on(port: u16, target: (String, u16)) -> Self {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.load(Ordering::Relaxed) == 2 {
                    continue; // dropped: closed at once
                }
                let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let state = shared.clone();
                    std::thread::spawn(move || {
                        from.set_read_timeout(Some(Duration::from_millis(100)))
                            .unwrap();
                        let mut buf = [0u8; 16384];
                        loop {
                            match state.load(Ordering::Relaxed) {
                                1 => {
                                    std::thread::sleep(Duration::from_millis(50));
                                    continue;
                                }
                                2 => {
                                    let _ = from.shutdown(std::net::Shutdown::Both);
                                    let _ = to.shutdown(std::net::Shutdown::Both);
                                    return;
                                }
                                _ => {}
                            }
                            match from.read(&mut buf) {
                                Ok(0) => return,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        return;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => return,
                            }
                        }
                    });
                }
            }
        });
        Proxy { port, state }
    }

    fn freeze(&self, on: bool) {
        self.state
            .store(u8::from(on), std::sync::atomic::Ordering::Relaxed);
    }

    fn cut(&self) {
        self.state.store(2, std::sync::atomic::Ordering::Relaxed);
    }
}

fn host_and_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split('/').next().unwrap();
    let (host, port) = hostport.rsplit_once(':').unwrap();
    (host.to_string(), port.parse().unwrap())
}

/// The load generator records acknowledgements in Redis; when Redis goes away for good it
/// retries, then stops and says why (exit 2), instead of acknowledging what it cannot record.
#[test]
fn loadgen_stops_loudly_when_acks_cannot_be_recorded() {
    let flow = Flow::new("ackfail");
    flow.create_topics();
    let proxy = Proxy::start(host_and_port(&flow.redis_url));
    let child = flow
        .loadgen(&[
            "--direct",
            "--rate",
            "500",
            "--count",
            "1000000",
            "--ack-redis",
        ])
        .env(
            "KAPTURE_REDIS_URL",
            format!("redis://127.0.0.1:{}", proxy.port),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    proxy.cut();
    let mut child = child;
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("loadgen kept going after Redis was gone");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stderr = reader.join().unwrap();
    eprintln!(
        "loadgen stopped {:?} after Redis was cut",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("recording acknowledged ids in Redis failed 5 times"),
        "{stderr}"
    );
}
/// A database that stops answering shows as not live (the kubelet would restart the sink),
/// and the sink recovers without losing a row once it answers again. `through` points the
/// flow's sink at the proxy (given its port) and returns the real server's address.
fn sink_shows_a_hung_database_as_not_live(
    mut flow: Flow,
    sink: &'static str,
    through: impl FnOnce(&mut Flow, u16) -> (String, u16),
    stored: impl Fn(&Flow) -> u64,
) {
    let proxy_port = free_port();
    let proxy = Proxy::start_on(proxy_port, through(&mut flow, proxy_port));
    flow.env
        .push(("KAPTURE_LIVENESS_TIMEOUT".into(), "3s".into()));
    flow.create_topics();
    for role in ["router", sink] {
        flow.start(role);
        flow.wait_ready(role);
    }
    let ack = flow.ack_file();
    let direct = |n: &str| {
        let child = flow
            .loadgen(&[
                "--direct",
                "--rate",
                "0",
                "--count",
                n,
                "--ack-file",
                ack.to_str().unwrap(),
            ])
            .spawn()
            .unwrap();
        flow.run_loadgen(child, Duration::from_secs(120))
    };
    direct("200");
    wait_until("the first rows", Duration::from_secs(60), || {
        stored(&flow) >= 200
    });
    let live = |flow: &Flow| http(flow.metrics[sink], "GET", "/healthz", b"").map(|r| r.0);
    // Live once its batches are done (on a loaded machine one may take longer than 3 s).
    wait_or(
        "/healthz to answer 200 before the database hangs",
        Duration::from_secs(30),
        &mut || live(&flow).ok() == Some(200),
        || flow.logs(),
    );

    proxy.freeze(true);
    direct("200");
    wait_or(
        "/healthz to report the hung database",
        Duration::from_secs(30),
        &mut || live(&flow).ok() == Some(503),
        || flow.logs(),
    );
    proxy.freeze(false);
    wait_or(
        "/healthz to recover",
        Duration::from_secs(60),
        &mut || live(&flow).ok() == Some(200),
        || flow.logs(),
    );
    wait_until("every row", Duration::from_secs(60), || {
        stored(&flow) >= 400
    });
    assert!(flow
        .children
        .get_mut(sink)
        .unwrap()
        .try_wait()
        .unwrap()
        .is_none());
}

#[test]
fn sink_postgres_shows_a_hung_database_as_not_live() {
    let flow = Flow::new("hung");
    let through = |flow: &mut Flow, port: u16| {
        let mut target = (String::new(), 0);
        for (k, v) in flow.env.iter_mut() {
            match k.as_str() {
                "KAPTURE_POSTGRES_HOST" => target.0 = std::mem::replace(v, "127.0.0.1".into()),
                "KAPTURE_POSTGRES_PORT" => {
                    target.1 = v.parse().unwrap();
                    *v = port.to_string();
                }
                _ => {}
            }
        }
        flow.env
            .push(("KAPTURE_POSTGRES_TIMEOUT".into(), "60s".into()));
        target
    };
    sink_shows_a_hung_database_as_not_live(flow, "sink-postgres", through, Flow::pg_count);
}

#[test]
fn sink_mongo_shows_a_hung_database_as_not_live() {
    let flow = Flow::with_mongo("mhung");
    let through = |flow: &mut Flow, port: u16| {
        let url = flow.mongo_url.clone().unwrap();
        for (k, v) in flow.env.iter_mut() {
            if k == "KAPTURE_MONGO_URL" {
                *v = format!("mongodb://127.0.0.1:{port}");
            }
        }
        flow.env
            .push(("KAPTURE_MONGO_TIMEOUT".into(), "60s".into()));
        host_and_port(&url)
    };
    sink_shows_a_hung_database_as_not_live(flow, "sink-mongo", through, Flow::mongo_count);
}

/// The MongoDB sink killed with SIGKILL and restarted three times mid-run loses and duplicates
/// nothing: every acknowledged transaction is in MongoDB once, per state as in Postgres.
#[test]
fn chaos_kills_of_sink_mongo_lose_and_duplicate_nothing() {
    let mut flow = Flow::with_mongo("mchaos");
    flow.start_all();
    let started = Instant::now();
    // Straight to Kafka: the order service's path is the other tests' business, and its CPU
    // is better left to the sinks here.
    let child = flow
        .loadgen(&[
            "--direct",
            "--rate",
            "2500",
            "--count",
            &TOTAL.to_string(),
            "--ack-redis",
            "--seed",
            "43",
        ])
        .spawn()
        .unwrap();
    for round in 0..3 {
        std::thread::sleep(Duration::from_secs(8));
        flow.kill9("sink-mongo");
        std::thread::sleep(Duration::from_millis(500));
        flow.restart("sink-mongo");
        eprintln!(
            "round {round}: killed and restarted sink-mongo at {:?}",
            started.elapsed()
        );
    }
    let summary = flow.run_loadgen(child, Duration::from_secs(600));
    eprintln!("loadgen: {summary}  ({:?})", started.elapsed());
    let acked = summary["acked"].as_u64().unwrap();
    assert_eq!(acked, TOTAL, "{summary}");
    assert_eq!(flow.restarts, 3);

    flow.wait_drained(acked);
    eprintln!("pipeline drained after {:?}", started.elapsed());

    let (code, report) = flow.verify(&["--ack-redis"]);
    assert_eq!(code, 0, "{report:#}\n{}", flow.logs());
    assert_integrity(&flow, &report, acked);
    let ctx = || format!("{report:#}\n{}", flow.logs());
    assert_eq!(report["mongo_documents"], acked, "{}", ctx());
    assert_eq!(
        (&report["mongo_lost"], &report["mongo_duplicates"]),
        (&json!(0), &json!(0)),
        "{}",
        ctx()
    );
    assert_eq!(report["mongo_states_match"], true, "{}", ctx());
    for s in report["states"].as_array().unwrap() {
        assert_eq!(s["mongo"], s["postgres"], "{s}");
    }
    for (role, status) in flow.stop_all() {
        assert!(status.success(), "{role}: {status:?}\n{}", flow.logs());
    }
}

/// Every message of `topic` from its start to its end as of now: (key, headers).
fn read_topic(topic: &str) -> Vec<(String, HashMap<String, String>)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bench_var("KAPTURE_TEST_KAFKA"))
        .set("group.id", "e2e-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout).unwrap();
    let mut assignment = rdkafka::TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in metadata.topics()[0].partitions() {
        let (low, high) = consumer.fetch_watermarks(topic, p.id(), timeout).unwrap();
        if high > low {
            assignment
                .add_partition_offset(topic, p.id(), rdkafka::Offset::Offset(low))
                .unwrap();
            ends.insert(p.id(), high);
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return out;
    }
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        assert!(Instant::now() < deadline, "{topic} not read to its end");
        let Some(m) = consumer.poll(Duration::from_secs(1)) else {
            continue;
        };
        let m = m.unwrap();
        if ends
            .get(&m.partition())
            .is_some_and(|end| m.offset() + 1 >= *end)
        {
            ends.remove(&m.partition());
        }
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                        (h.key.to_string(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        out.push((key, headers));
    }
    out
}

/// Poison on a per-state topic, and a document MongoDB refuses (a unique index a DBA added),
/// go to the dead-letter topic with the Mongo sink's reason; the sink keeps going.
#[test]
fn sink_mongo_dead_letters_what_it_cannot_store_and_keeps_going() {
    let mut flow = Flow::with_mongo("mdead");
    flow.create_topics();
    // One transaction per purchase time: MongoDB refuses a second one as data (E11000).
    let created = flow.with_mongo_db(async |db| {
        db.run_command(mongodb::bson::doc! {
            "createIndexes": "transactions",
            "indexes": [{"key": {"time": 1}, "name": "one_per_time", "unique": true}],
        })
        .await
    });
    created.expect("MongoDB URL").expect("creating the index");
    flow.start("sink-mongo");
    flow.wait_ready("sink-mongo");

    let base = sample_transaction(&flow);
    let state = base["store"]["location"]["state"].as_str().unwrap();
    let topic = format!("{}.transactions.{}", flow.name, state.to_lowercase());
    let with = |id: &str, time: &str| {
        let mut v = base.clone();
        v["id"] = json!(id);
        v["time"] = json!(time);
        v.to_string().into_bytes()
    };
    produce_raw(
        &topic,
        &[
            ("poison-time", with("poison-time", "0000-01-01T00:00:00Z")),
            ("first", with("first", "2026-01-02T03:04:05Z")),
            ("second", with("second", "2026-01-02T03:04:06Z")),
            ("same-time", with("same-time", "2026-01-02T03:04:05Z")),
        ],
    );
    let dead_topic = format!("{}.transactions.dead-letter", flow.name);
    wait_or(
        "two documents stored and two dead letters",
        Duration::from_secs(60),
        &mut || flow.mongo_count() >= 2 && read_topic(&dead_topic).len() >= 2,
        || flow.logs(),
    );
    let letters = read_topic(&dead_topic);
    assert_eq!(letters.len(), 2, "{letters:?}");
    let by_label: HashMap<&str, &HashMap<String, String>> = letters
        .iter()
        .map(|(_, h)| (h["kapture-dead-letter-label"].as_str(), h))
        .collect();
    let time = by_label["time"];
    assert_eq!(time["kapture-dead-letter-role"], "sink-mongo");
    assert!(
        time["kapture-dead-letter-reason"].starts_with("time: "),
        "{time:?}"
    );
    assert_eq!(time["kapture-source-topic"], topic);
    let refused = by_label["mongo"];
    assert_eq!(refused["kapture-dead-letter-role"], "sink-mongo");
    assert!(
        refused["kapture-dead-letter-reason"].contains("E11000"),
        "{refused:?}"
    );
    // Which of the two with one time is refused depends on their partitions' order.
    let keys: Vec<&str> = letters.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"poison-time"), "{keys:?}");
    assert!(
        keys.contains(&"first") || keys.contains(&"same-time"),
        "{keys:?}"
    );
    let text = flow.metrics_text("sink-mongo");
    for reason in ["time", "mongo"] {
        let series = format!(
            "kapture_messages_dead_lettered_total{{role=\"sink-mongo\",reason=\"{reason}\"}}"
        );
        assert_eq!(metric(&text, &series), 1, "{series}\n{text}");
    }

    // Still the same process, and it still stores what comes.
    produce_raw(&topic, &[("third", with("third", "2026-01-02T03:04:07Z"))]);
    wait_or(
        "the sink to store a transaction after the poison",
        Duration::from_secs(60),
        &mut || flow.mongo_count() >= 3,
        || flow.logs(),
    );
    assert_eq!(flow.mongo_count(), 3);
    for (role, status) in flow.stop_all() {
        assert!(status.success(), "{role}: {status:?}\n{}", flow.logs());
    }
}
