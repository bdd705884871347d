//! Load generator: transactions from the model, paced by a token bucket, sent to the order
//! service over HTTP or produced straight to Kafka. Acknowledged ids are recorded so that
//! `verify` can prove nothing acknowledged was lost.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use kapture::component::Component;

use super::acks;
use super::cli::LoadgenArgs;
use super::kafka_config;
use super::metrics::{self, Metrics};
use super::model::{Generator, GeneratorConfig};
use super::rate::TokenBucket;
use super::redis_conn;
use super::shutdown::Shutdown;
use super::stats::{LatencySummary, Samples};

/// When the run ends (pure).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub count: Option<u64>,
    pub duration: Option<Duration>,
}

impl Limits {
    /// `elapsed` is only asked for when there is a duration (a clock read per message saved).
    pub fn reached(&self, sent: u64, elapsed: impl FnOnce() -> Duration) -> bool {
        self.count.is_some_and(|c| sent >= c) || self.duration.is_some_and(|d| elapsed() >= d)
    }
}

/// Printed as JSON on stdout at the end of a run.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    /// Failures by HTTP status or error kind.
    pub failures: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub sent_per_s: f64,
    pub acked_per_s: f64,
    pub latency: LatencySummary,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    acked: u64,
    failures: BTreeMap<String, u64>,
    samples: Samples,
}

impl Tally {
    fn fail(&mut self, metrics: &Metrics, reason: String) {
        metrics.fail(&reason);
        *self.failures.entry(reason).or_default() += 1;
    }

    fn summary(mut self, mode: &'static str, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Summary {
            mode,
            sent: self.sent,
            acked: self.acked,
            failed: self.failures.values().sum(),
            failures: std::mem::take(&mut self.failures),
            elapsed_s: secs,
            sent_per_s: self.sent as f64 / secs,
            acked_per_s: self.acked as f64 / secs,
            latency: self.samples.summary(),
        }
    }
}

fn generator(args: &LoadgenArgs) -> Result<Generator> {
    let seed = args.seed.unwrap_or_else(rand::random);
    tracing::info!(seed, "generator seed (pass --seed to repeat this stream)");
    let config = GeneratorConfig {
        seed,
        stores: usize::try_from(args.stores).context("--stores is too large")?,
        customers: usize::try_from(args.customers).context("--customers is too large")?,
        ..Default::default()
    };
    config.validate().context("invalid generator settings")?;
    Ok(Generator::new(config))
}

/// The transaction id of a generated payload. The model writes `id` first, so this is a
/// prefix match; anything else falls back to parsing.
pub fn payload_id(json: &[u8]) -> Result<String> {
    if let Some(span) = id_span(json) {
        return Ok(String::from_utf8_lossy(&json[span]).into_owned());
    }
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    Ok(serde_json::from_slice::<IdOnly>(json)
        .context("generated payload has no id")?
        .id)
}

/// Byte range of the id in a payload that starts with it (as the model writes it).
fn id_span(json: &[u8]) -> Option<std::ops::Range<usize>> {
    const PREFIX: &[u8] = br#"{"id":""#;
    let rest = json.strip_prefix(PREFIX)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let id = &rest[..end];
    (!id.contains(&b'\\') && std::str::from_utf8(id).is_ok())
        .then_some(PREFIX.len()..PREFIX.len() + end)
}

/// Paces the sender; `None` when the rate is unlimited.
struct Pacer {
    bucket: Option<TokenBucket>,
    start: Instant,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        let start = Instant::now();
        Self {
            bucket: (rate > 0.0).then(|| TokenBucket::new(rate, Duration::ZERO)),
            start,
        }
    }

    /// Reserves the next send and returns how long to wait for it; zero when the rate is
    /// unlimited or the wait is under a millisecond (the bucket's reservation accounting
    /// absorbs those).
    fn reserve(&mut self) -> Duration {
        let Some(bucket) = &mut self.bucket else {
            return Duration::ZERO;
        };
        let wait = bucket.reserve(self.start.elapsed());
        if wait >= Duration::from_millis(1) {
            wait
        } else {
            Duration::ZERO
        }
    }
}

pub async fn run(args: LoadgenArgs, shutdown: Shutdown) -> Result<()> {
    if let Some(path) = &args.dump {
        let count = args.count.context("--dump needs --count")?;
        return dump(&args, path, count);
    }
    let metrics = Metrics::new(Component::Loadgen);
    metrics::serve(&args.metrics, metrics.clone(), shutdown.clone()).await?;
    let (ack_tx, ack_task) = start_ack_writer(&args).await?;
    metrics.set_ready(true);
    let limits = Limits {
        count: args.count,
        duration: args.duration,
    };
    let summary = if args.direct {
        run_direct(&args, limits, &metrics, ack_tx, shutdown).await?
    } else {
        run_http(&args, limits, &metrics, ack_tx, shutdown).await?
    };
    let recorded = ack_task.await.context("ack writer panicked")??;
    tracing::info!(recorded, "acknowledged ids recorded");
    kapture::output::write_stdout(&(serde_json::to_string(&summary)? + "\n"))?;
    Ok(())
}

fn dump(args: &LoadgenArgs, path: &Path, count: u64) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut generator = generator(args)?;
    let mut buf = Vec::with_capacity(2048);
    for _ in 0..count {
        generator.next_json(&mut buf);
        buf.push(b'\n');
        out.write_all(&buf)?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

type AckSender = Option<mpsc::Sender<String>>;

/// Attempts to record a group of acknowledgements in Redis before the load generator stops.
const ACK_ATTEMPTS: u32 = 5;

/// Records acknowledged ids (file and/or Redis bitmaps, see `acks`) in the background; the
/// task ends, having flushed everything, once every sender is dropped, and returns how many
/// ids it recorded. A Redis error is retried on a fresh connection; when it persists the task
/// fails, its channel closes, and the load generator stops and reports the error.
async fn start_ack_writer(
    args: &LoadgenArgs,
) -> Result<(AckSender, tokio::task::JoinHandle<Result<u64>>)> {
    let mut file = match &args.ack_file {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening ack file {}", p.display()))?;
            Some((std::io::BufWriter::new(f), p.clone()))
        }
        None => None,
    };
    let mut redis = if args.ack_redis {
        let client = redis_conn::client(&args.redis.redis_url)?;
        let conn = redis_conn::connect(&client).await?;
        let prefix = args
            .kafka
            .names(&args.redis.redis_prefix)
            .acked_bitmap_prefix();
        Some((client, conn, prefix))
    } else {
        None
    };
    if file.is_none() && redis.is_none() {
        return Ok((None, tokio::spawn(async { Ok(0) })));
    }
    let (tx, mut rx) = mpsc::channel::<String>(65_536);
    let task = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(4096);
        let mut recorded = 0u64;
        while rx.recv_many(&mut buf, 4096).await > 0 {
            if let Some((w, path)) = &mut file {
                for id in &buf {
                    writeln!(w, "{id}").with_context(|| format!("writing {}", path.display()))?;
                }
            }
            if let Some((client, conn, prefix)) = &mut redis {
                let mut pipe = redis::pipe();
                for id in &buf {
                    let (suffix, bit) = acks::bit_of(id).with_context(|| {
                        format!("id {id:?} is not a generated id; --ack-redis records only those")
                    })?;
                    pipe.setbit(format!("{prefix}{suffix}"), bit as usize, true)
                        .ignore();
                }
                record_bits(client, conn, &pipe).await?;
            }
            recorded += buf.len() as u64;
            buf.clear();
        }
        if let Some((w, path)) = &mut file {
            w.flush()
                .with_context(|| format!("flushing {}", path.display()))?;
            w.get_ref()
                .sync_all()
                .with_context(|| format!("syncing {}", path.display()))?;
        }
        Ok(recorded)
    });
    Ok((Some(tx), task))
}

/// Runs the SETBIT pipeline (idempotent), retrying on a fresh connection.
async fn record_bits(
    client: &redis::Client,
    conn: &mut redis::aio::MultiplexedConnection,
    pipe: &redis::Pipeline,
) -> Result<()> {
    let mut attempt = 1;
    loop {
        match pipe.query_async::<()>(conn).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < ACK_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "recording acknowledgements in Redis failed; retrying");
                tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                if let Ok(fresh) = redis_conn::connect(client).await {
                    *conn = fresh;
                }
                attempt += 1;
            }
            Err(e) => {
                return Err(e).context(format!(
                    "recording acknowledged ids in Redis failed {ACK_ATTEMPTS} times; stopping the load"
                ))
            }
        }
    }
}

/// Hands an acknowledged id to the writer; false once the writer has failed (its task
/// holds the error), which stops the load.
async fn ack(tx: &AckSender, id: String) -> bool {
    match tx {
        Some(tx) => tx.send(id).await.is_ok(),
        None => true,
    }
}

enum HttpOutcome {
    Acked(String, Duration),
    Status(u16),
    Error(&'static str),
}

async fn run_http(
    args: &LoadgenArgs,
    limits: Limits,
    metrics: &Arc<Metrics>,
    ack_tx: AckSender,
    shutdown: Shutdown,
) -> Result<Summary> {
    let concurrency = args.concurrency as usize;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let url = format!(
        "{}/transactions",
        args.order_service_url.trim_end_matches('/')
    );
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut generator = generator(args)?;
    let mut pacer = Pacer::new(args.rate);
    let mut tally = Tally::default();
    let mut tasks: JoinSet<HttpOutcome> = JoinSet::new();
    tracing::info!(%url, rate = args.rate, concurrency, "loadgen (HTTP) starting");

    let handle = |outcome: HttpOutcome, tally: &mut Tally| -> Option<String> {
        match outcome {
            HttpOutcome::Acked(id, latency) => {
                tally.acked += 1;
                tally.samples.record(latency);
                metrics.produced.inc();
                metrics.latency.observe(latency.as_secs_f64());
                Some(id)
            }
            HttpOutcome::Status(s) => {
                tally.fail(metrics, format!("http_{s}"));
                None
            }
            HttpOutcome::Error(kind) => {
                tally.fail(metrics, kind.to_owned());
                None
            }
        }
    };

    let mut recording = true;
    while recording
        && !shutdown.is_triggered()
        && !limits.reached(tally.sent, || pacer.start.elapsed())
    {
        let wait = pacer.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .context("semaphore closed")?;
        let mut body = Vec::with_capacity(2048);
        generator.next_json(&mut body);
        let id = payload_id(&body)?;
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => HttpOutcome::Acked(id, started.elapsed()),
                Ok(r) => HttpOutcome::Status(r.status().as_u16()),
                Err(e) if e.is_timeout() => HttpOutcome::Error("timeout"),
                Err(e) if e.is_connect() => HttpOutcome::Error("connect"),
                Err(_) => HttpOutcome::Error("http"),
            }
        });
        tally.sent += 1;
        while let Some(done) = tasks.try_join_next() {
            if let Some(id) = handle(done.context("request task panicked")?, &mut tally) {
                recording &= ack(&ack_tx, id).await;
            }
        }
    }
    // Intake stopped: let every request in flight finish so its outcome is recorded.
    while let Some(done) = tasks.join_next().await {
        if let Some(id) = handle(done.context("request task panicked")?, &mut tally) {
            ack(&ack_tx, id).await;
        }
    }
    Ok(tally.summary("http", pacer.start.elapsed()))
}

/// Delivery reports of the direct mode, served on the sending thread between sends (no
/// future or channel per message, no opaque: librdkafka times each message itself).
struct DirectContext {
    metrics: Arc<Metrics>,
    acks: AckSender,
    /// Set once the ack writer has failed: the load stops (the writer's task has the error).
    acks_failed: AtomicBool,
    tally: std::sync::Mutex<Tally>,
}

impl ClientContext for DirectContext {}

impl ProducerContext for DirectContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(message) => {
                let latency = delivery_latency(message);
                tally.acked += 1;
                tally.samples.record(latency);
                drop(tally);
                self.metrics.produced.inc();
                self.metrics.latency.observe(latency.as_secs_f64());
                if let (Some(tx), Some(key)) = (&self.acks, message.key()) {
                    // The key is the transaction id. The sending thread is outside the
                    // runtime (`block_in_place`), so blocking is allowed; it paces the
                    // producer to the ack writer. An error means the writer failed, which it
                    // reports.
                    let id = String::from_utf8_lossy(key).into_owned();
                    if tx.blocking_send(id).is_err() {
                        self.acks_failed.store(true, Ordering::Relaxed);
                    }
                }
            }
            Err((e, message)) => {
                tally.fail(&self.metrics, "delivery".into());
                drop(tally);
                let id = message.key().map(String::from_utf8_lossy);
                tracing::debug!(id = id.as_deref().unwrap_or("-"), error = %e, "delivery failed");
            }
        }
    }
}

/// From the message's hand-over to librdkafka to its delivery report, as librdkafka measured it.
fn delivery_latency(message: &BorrowedMessage<'_>) -> Duration {
    // SAFETY: the pointer is the live message this delivery report is about; librdkafka
    // only reads the enqueue time it stored in it.
    let micros = unsafe { rdkafka::bindings::rd_kafka_message_latency(message.ptr()) };
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

async fn run_direct(
    args: &LoadgenArgs,
    limits: Limits,
    metrics: &Arc<Metrics>,
    ack_tx: AckSender,
    shutdown: Shutdown,
) -> Result<Summary> {
    let names = args.kafka.names(&args.redis.redis_prefix);
    let topic = names.source_topic();
    let context = DirectContext {
        metrics: metrics.clone(),
        acks: ack_tx,
        acks_failed: Default::default(),
        tally: Default::default(),
    };
    let producer: BaseProducer<DirectContext> =
        kafka_config::producer_config(&args.kafka.kafka_bootstrap)
            .create_with_context(context)
            .with_context(|| {
                format!("creating Kafka producer for {}", args.kafka.kafka_bootstrap)
            })?;
    // One thread sends and serves the delivery reports, as kcat does; the payloads are made
    // on another (`GeneratedAhead`).
    let (produced, flushed) = tokio::task::block_in_place(|| {
        let produced = produce(args, limits, &producer, &topic, &shutdown);
        // Every delivery report arrives before flush returns (or it fails).
        (produced, flush(&producer, Duration::from_secs(30)))
    });
    let (sent, started) = produced?;
    flushed.context("flushing the producer")?;
    let elapsed = started.elapsed();
    let mut tally = std::mem::take(
        &mut *producer
            .context()
            .tally
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    // The context drops its ack sender with the producer, which lets the ack writer finish.
    drop(producer);
    tally.sent = sent;
    Ok(tally.summary("direct", elapsed))
}

/// Serves delivery reports until every message handed to librdkafka is delivered or failed,
/// looking every millisecond. rdkafka's own `flush` looks again only every 100 ms (its `poll`
/// always waits out its timeout), which a run pays at its end.
fn flush(producer: &BaseProducer<DirectContext>, within: Duration) -> KafkaResult<()> {
    let deadline = Instant::now() + within;
    loop {
        match producer.flush(Timeout::After(Duration::ZERO)) {
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                if Instant::now() < deadline =>
            {
                producer.poll(Duration::from_millis(1));
            }
            done => return done,
        }
    }
}

/// Without a pacer's wait, delivery reports are served once every this many sends: serving
/// reads the clock and takes the report queue's lock. A report (and its latency) waits at most
/// this many sends, tens of microseconds at full speed; a paced run serves them while it
/// waits, at least every millisecond or two.
const SENDS_PER_POLL: u64 = 32;

/// Hands transactions to librdkafka until a limit, a shutdown or a failed ack writer, serving
/// delivery reports between sends and while it waits (for the pacer or for room in
/// librdkafka's queue); returns how many were handed over, and when the first one could be.
/// Blocks: call it outside the runtime's workers.
fn produce(
    args: &LoadgenArgs,
    limits: Limits,
    producer: &BaseProducer<DirectContext>,
    topic: &str,
    shutdown: &Shutdown,
) -> Result<(u64, Instant)> {
    let client = producer.client();
    let timeout = Duration::from_secs(10);
    anyhow::ensure!(
        kafka_config::topic_exists(client, topic, timeout)?,
        "topic {topic} does not exist at {}: it is created by the topic Job (`kapture-worker create-topics`)",
        args.kafka.kafka_bootstrap
    );
    kafka_config::hasten_producer_id(client, topic, timeout)?;
    let handle = TopicHandle::new(producer, topic)?;
    let mut payloads = GeneratedAhead::start(generator(args)?, limits.count);
    let mut pacer = Pacer::new(args.rate);
    let context = producer.context();
    let mut sent = 0u64;
    tracing::info!(%topic, rate = args.rate, "loadgen (direct) starting");
    while !shutdown.is_triggered()
        && !context.acks_failed.load(Ordering::Relaxed)
        && !limits.reached(sent, || pacer.start.elapsed())
    {
        let wait = pacer.reserve();
        if !wait.is_zero() || sent % SENDS_PER_POLL == 0 {
            // Waits out the pacer serving reports, or serves those ready.
            producer.poll(wait);
        }
        let Some(payload) = payloads.next() else {
            break;
        };
        // The key is the id, borrowed from the payload when it leads it (the model's case).
        let owned_key;
        let key: &[u8] = match id_span(payload) {
            Some(span) => &payload[span],
            None => {
                owned_key = payload_id(payload)?;
                owned_key.as_bytes()
            }
        };
        loop {
            match handle.produce(key, payload) {
                Ok(()) => break,
                Err(RDKafkaErrorCode::QueueFull) => {
                    // librdkafka's queue is full: serve reports while its threads deliver.
                    producer.poll(Duration::from_millis(1));
                }
                Err(e) => {
                    let mut tally = context.tally.lock().unwrap_or_else(|p| p.into_inner());
                    tally.fail(&context.metrics, "enqueue".into());
                    tracing::warn!(id = %String::from_utf8_lossy(key), error = %e, "could not enqueue");
                    break;
                }
            }
        }
        sent += 1;
    }
    Ok((sent, pacer.start))
}

/// The generator's payloads, made on a thread of their own a chunk ahead of the sender, in
/// the generator's order. Generation is about a fifth of the direct mode's CPU, work kcat
/// (replaying a file) does not do; taken off the sending thread and given way (`give_way`),
/// it runs in the time librdkafka's threads and the sender leave.
struct GeneratedAhead {
    chunks: std::sync::mpsc::Receiver<Chunk>,
    /// Read chunks go back to the generator, which refills them without allocating.
    spent: std::sync::mpsc::SyncSender<Chunk>,
    current: Chunk,
    next: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Payloads back to back, and where each ends.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl GeneratedAhead {
    /// Payloads per chunk: a hand-over per this many, and this many made beyond the last read.
    const CHUNK: u64 = 256;
    /// Chunks made ahead of the one being read.
    const AHEAD: usize = 4;

    /// Starts generating `count` payloads, or until dropped.
    fn start(mut generator: Generator, count: Option<u64>) -> GeneratedAhead {
        let (made, chunks) = std::sync::mpsc::sync_channel::<Chunk>(Self::AHEAD);
        let (spent, returned) = std::sync::mpsc::sync_channel::<Chunk>(Self::AHEAD + 2);
        let thread = std::thread::Builder::new()
            .name("generator".into())
            .spawn(move || {
                give_way();
                let mut left = count.unwrap_or(u64::MAX);
                let mut payload = Vec::with_capacity(2048);
                while left > 0 {
                    let mut chunk = returned.try_recv().unwrap_or_default();
                    chunk.bytes.clear();
                    chunk.ends.clear();
                    let n = left.min(Self::CHUNK);
                    for _ in 0..n {
                        generator.next_json(&mut payload);
                        chunk.bytes.extend_from_slice(&payload);
                        chunk.ends.push(chunk.bytes.len());
                    }
                    left -= n;
                    if made.send(chunk).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the generator thread");
        GeneratedAhead {
            chunks,
            spent,
            current: Chunk::default(),
            next: 0,
            thread: Some(thread),
        }
    }

    /// The next payload; `None` once `count` were read.
    fn next(&mut self) -> Option<&[u8]> {
        if self.next == self.current.ends.len() {
            let chunk = self.chunks.recv().ok()?;
            // Best effort: a chunk not taken back is simply freed.
            let _ = self
                .spent
                .try_send(std::mem::replace(&mut self.current, chunk));
            self.next = 0;
        }
        let start = self.next.checked_sub(1).map_or(0, |i| self.current.ends[i]);
        let end = self.current.ends[self.next];
        self.next += 1;
        Some(&self.current.bytes[start..end])
    }
}

/// Lowers the calling thread's scheduling priority (nice 10; on Linux the nice value is a
/// thread's own). The generator works ahead, so it needs only the time that librdkafka's broker
/// thread (compression: the critical path, kcat's too) and the sender leave; when there are
/// fewer cores than busy threads it then waits for them instead of taking turns with them.
/// Worth about 4% of throughput on two cores (docs/benchmarks.md).
fn give_way() {
    // SAFETY: plain system call on the calling thread (who = 0); raising one's own nice value
    // needs no privilege.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the generator thread's priority");
    }
}

impl Drop for GeneratedAhead {
    /// Stops the thread: with the receiving end gone, its next hand-over fails and it returns
    /// (at most a chunk's generation later).
    fn drop(&mut self) {
        let (_, closed) = std::sync::mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.chunks, closed));
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// A librdkafka topic handle of the direct mode's producer. Producing through it skips the
/// look-up by name (a lock and a search per message) that rdkafka's `BaseRecord::to` costs;
/// kcat produces the same way.
struct TopicHandle<'p> {
    raw: std::ptr::NonNull<rdkafka::bindings::rd_kafka_topic_t>,
    _producer: std::marker::PhantomData<&'p BaseProducer<DirectContext>>,
}

impl<'p> TopicHandle<'p> {
    fn new(producer: &'p BaseProducer<DirectContext>, topic: &str) -> Result<Self> {
        let name = std::ffi::CString::new(topic).context("topic name contains a NUL byte")?;
        // SAFETY: the client pointer is live for 'p, which this handle's lifetime is tied to;
        // a null configuration means the producer's defaults.
        let raw = unsafe {
            rdkafka::bindings::rd_kafka_topic_new(
                producer.client().native_ptr(),
                name.as_ptr(),
                std::ptr::null_mut(),
            )
        };
        let raw = std::ptr::NonNull::new(raw)
            .with_context(|| format!("librdkafka refused a handle for topic {topic}"))?;
        Ok(TopicHandle {
            raw,
            _producer: std::marker::PhantomData,
        })
    }

    /// Enqueues a copy of `payload` keyed by `key`, partitioned by the producer's partitioner.
    fn produce(&self, key: &[u8], payload: &[u8]) -> std::result::Result<(), RDKafkaErrorCode> {
        // SAFETY: the handle is live; librdkafka copies key and payload (F_COPY) before it
        // returns and never writes through the payload pointer; a null opaque is the `()`
        // delivery opaque of `DirectContext`.
        let enqueued = unsafe {
            rdkafka::bindings::rd_kafka_produce(
                self.raw.as_ptr(),
                rdkafka::producer::PARTITION_UA,
                rdkafka::bindings::RD_KAFKA_MSG_F_COPY,
                payload.as_ptr() as *mut std::ffi::c_void,
                payload.len(),
                key.as_ptr().cast(),
                key.len(),
                std::ptr::null_mut(),
            )
        };
        if enqueued == 0 {
            Ok(())
        } else {
            // SAFETY: reads this thread's last librdkafka error, set by the call above.
            Err(unsafe { rdkafka::bindings::rd_kafka_last_error() }.into())
        }
    }
}

impl Drop for TopicHandle<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from rd_kafka_topic_new and is released once; the producer
        // outlives it.
        unsafe { rdkafka::bindings::rd_kafka_topic_destroy(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generator config that builds in microseconds.
    fn small_world(seed: u64) -> GeneratorConfig {
        GeneratorConfig {
            seed,
            stores: 5,
            customers: 50,
            ..Default::default()
        }
    }

    #[test]
    fn limits_by_count_duration_or_neither() {
        let none = Limits {
            count: None,
            duration: None,
        };
        assert!(!none.reached(u64::MAX, || Duration::from_secs(86_400)));
        let count = Limits {
            count: Some(10),
            duration: None,
        };
        assert!(!count.reached(9, || Duration::ZERO));
        assert!(count.reached(10, || Duration::ZERO));
        let both = Limits {
            count: Some(10),
            duration: Some(Duration::from_secs(1)),
        };
        assert!(both.reached(1, || Duration::from_secs(1)));
        assert!(!both.reached(1, || Duration::from_millis(999)));
    }

    #[test]
    fn payload_id_reads_the_leading_id_or_parses() {
        assert_eq!(payload_id(br#"{"id":"ab-1","time":"x"}"#).unwrap(), "ab-1");
        assert_eq!(payload_id(br#"{"time":"x","id":"z9"}"#).unwrap(), "z9");
        assert_eq!(payload_id(br#"{"id":"a\"b"}"#).unwrap(), "a\"b");
        assert!(payload_id(b"{}").is_err());
    }

    #[test]
    fn generated_payloads_carry_their_id_first() {
        let mut g = Generator::new(small_world(3));
        let mut buf = Vec::new();
        for _ in 0..50 {
            g.next_json(&mut buf);
            let txn: crate::transaction::Transaction = serde_json::from_slice(&buf).unwrap();
            assert!(
                buf.starts_with(br#"{"id":""#),
                "model no longer writes id first"
            );
            assert_eq!(payload_id(&buf).unwrap(), txn.id);
        }
    }

    #[test]
    fn payloads_generated_ahead_are_the_generators_stream_and_end_at_the_count() {
        let config = small_world(11);
        let mut inline = Generator::new(config.clone());
        // Not a multiple of the chunk, so the last chunk is a short one.
        let count = GeneratedAhead::CHUNK * 2 + 7;
        let mut ahead = GeneratedAhead::start(Generator::new(config), Some(count));
        let mut expected = Vec::new();
        for _ in 0..count {
            inline.next_json(&mut expected);
            assert_eq!(ahead.next(), Some(&expected[..]));
        }
        assert_eq!(ahead.next(), None);
    }

    #[test]
    fn payloads_generated_ahead_without_a_count_stop_with_their_reader() {
        let config = small_world(12);
        let mut ahead = GeneratedAhead::start(Generator::new(config), None);
        for _ in 0..GeneratedAhead::CHUNK * 10 {
            assert!(ahead.next().is_some_and(|p| p.starts_with(br#"{"id":""#)));
        }
        // Joins the thread, which ends at its next hand-over (were it not to, this would hang).
        drop(ahead);
    }

    #[test]
    fn summary_rates_and_failures() {
        let mut t = Tally {
            sent: 10,
            acked: 8,
            ..Default::default()
        };
        t.failures.insert("http_503".into(), 2);
        let s = t.summary("http", Duration::from_secs(2));
        assert_eq!((s.failed, s.sent_per_s, s.acked_per_s), (2, 5.0, 4.0));
    }
}
