//! Transactions generated and serialised to JSON per second on one core.
//!
//! Each benchmark runs twice: against wall-clock time (criterion's default) and against the
//! CPU time of the benchmark thread, which stays meaningful on a busy shared machine where the
//! thread is preempted (see docs/workload-model.md).
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use kapture_worker::model::{Generator, GeneratorConfig};

const BATCH: u64 = 10_000;

/// On-CPU time of the current thread, from the first field of /proc/thread-self/schedstat (ns).
struct ThreadCpuTime {
    wall: WallTime,
}

fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("/proc/thread-self/schedstat is readable (Linux)");
    stat.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .expect("schedstat starts with the on-CPU time in ns")
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = Duration;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(thread_cpu_ns().saturating_sub(start))
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

fn configure<M: Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group.throughput(Throughput::Elements(BATCH));
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(20);
}

fn run<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut group = c.benchmark_group(name);
    configure(&mut group);
    let mut buf = Vec::with_capacity(4096);
    let mut json = |g: &mut Generator| {
        let mut bytes = 0;
        for _ in 0..BATCH {
            g.next_json(&mut buf);
            bytes += buf.len();
        }
        std::hint::black_box(bytes)
    };

    let mut g = Generator::new(GeneratorConfig::default());
    group.bench_function("next_json", |b| b.iter(|| json(&mut g)));

    let mut g = Generator::new(GeneratorConfig {
        stores: 10_000,
        customers: 1_000_000,
        ..GeneratorConfig::default()
    });
    group.bench_function("next_json_1m_customers", |b| b.iter(|| json(&mut g)));

    let mut g = Generator::new(GeneratorConfig::default());
    group.bench_function("next_transaction", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                std::hint::black_box(g.next_transaction());
            }
        })
    });
    group.finish();
}

fn wall(c: &mut Criterion) {
    run(c, "generator");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    run(c, "generator_cpu");
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime { wall: WallTime });
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
