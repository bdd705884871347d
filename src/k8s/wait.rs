//! Bounded waits. A [`Wait`] is woken by changes (watch events where the API has a watch,
//! ticks where it has none, as for Kafka's metadata), the caller looks again and either stops
//! or says what it still waits for; past the timeout the wait fails naming that.
//!
//! ```ignore
//! let mut wait = Wait::new("brokers to register", timeout, ticks(POLL));
//! loop {
//!     wait.changed().await?;
//!     match missing().await? {
//!         none if none.is_empty() => break,
//!         some => wait.waiting(some.join(", ")),
//!     }
//! }
//! ```
use std::fmt::Debug;
use std::future::ready;
use std::hash::Hash;
use std::io::IsTerminal;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Result;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use kube::runtime::reflector::{self, store::Writer, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// A wait that ran out of time, with what it was still waiting for.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {} waiting for {what}: {state}", humantime::format_duration(*.after))]
pub struct TimedOut {
    pub what: String,
    pub after: Duration,
    pub state: String,
}

/// Wakes on every change of what it watches or ticks, for at most `timeout` in all.
pub struct Wait<'a> {
    what: String,
    timeout: Duration,
    deadline: tokio::time::Instant,
    changes: Pin<Box<dyn Stream<Item = Result<()>> + Send + 'a>>,
    state: String,
    progress: Progress,
}

impl<'a> Wait<'a> {
    /// `what` completes "waiting for ...", e.g. "brokers to become Ready".
    pub fn new(
        what: impl Into<String>,
        timeout: Duration,
        changes: impl Stream<Item = Result<()>> + Send + 'a,
    ) -> Self {
        Wait {
            what: what.into(),
            timeout,
            deadline: tokio::time::Instant::now() + timeout,
            changes: Box::pin(changes),
            state: "nothing seen yet".to_string(),
            progress: Progress::new(),
        }
    }

    /// Returns at the next change; fails with [`TimedOut`] once the time is up.
    pub async fn changed(&mut self) -> Result<()> {
        match tokio::time::timeout_at(self.deadline, self.changes.next()).await {
            Ok(Some(change)) => change,
            Ok(None) => anyhow::bail!("the watch for {} ended", self.what),
            Err(_) => Err(TimedOut {
                what: self.what.clone(),
                after: self.timeout,
                state: self.state.clone(),
            }
            .into()),
        }
    }

    /// What is still awaited (`kapture-kafka-broker-1 (not created)`); shown when it changes.
    pub fn waiting(&mut self, state: String) {
        if state != self.state {
            self.progress
                .show(&format!("waiting for {}: {state}", self.what));
            self.state = state;
        }
    }
}

/// What a wait shows on stderr: a spinner on a terminal, else one line per new state.
struct Progress {
    spinner: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new() -> Self {
        let spinner = std::io::stderr().is_terminal().then(|| {
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        Progress { spinner }
    }

    fn show(&self, line: &str) {
        match &self.spinner {
            Some(spinner) => spinner.set_message(line.to_string()),
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}

/// A change every `period`, the first at once: for what has no watch.
pub fn ticks(period: Duration) -> impl Stream<Item = Result<()>> + Send {
    stream::unfold(tokio::time::interval(period), |mut interval| async move {
        interval.tick().await;
        Some((Ok(()), interval))
    })
}

/// Watches what `api` lists with `config` into a store that always holds a complete list
/// (kube's reflector swaps a re-list in whole). The stream yields on every change after the
/// first list is in.
pub fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    dyntype: K::DynamicType,
) -> (Store<K>, BoxStream<'static, Result<()>>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    let kind = K::kind(&dyntype).to_string();
    let writer = Writer::new(dyntype);
    let store = writer.as_reader();
    let changes = reflector::reflector(writer, watcher(api, config).default_backoff())
        .filter_map(move |event| {
            ready(match event {
                // Mid-list: the store still holds the previous complete list.
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
                Ok(_) => Some(Ok(())),
                Err(e) => Some(Err(
                    anyhow::Error::new(e).context(format!("watching {kind}"))
                )),
            })
        })
        .boxed();
    (store, changes)
}

/// The changes of several watches as one stream, starting once each has its first list.
pub fn all_listed(
    watches: Vec<BoxStream<'static, Result<()>>>,
) -> impl Stream<Item = Result<()>> + Send {
    let mut listed = vec![false; watches.len()];
    let tagged = watches
        .into_iter()
        .enumerate()
        .map(|(i, changes)| changes.map(move |change| change.map(|()| i)));
    stream::select_all(tagged).filter_map(move |change| {
        ready(match change {
            Ok(i) => {
                listed[i] = true;
                listed.iter().all(|l| *l).then_some(Ok(()))
            }
            Err(e) => Some(Err(e)),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_names_what_it_still_waited_for_when_time_is_up() {
        let timeout = Duration::from_millis(300);
        let mut wait = Wait::new("brokers", timeout, ticks(Duration::from_millis(100)));
        let mut looks = 0;
        let err = loop {
            match wait.changed().await {
                Ok(()) => {
                    looks += 1;
                    wait.waiting(format!("b-{looks} (not created)"));
                }
                Err(e) => break e,
            }
        };
        assert!(looks >= 1);
        let timed_out = err.downcast::<TimedOut>().expect("a TimedOut");
        assert_eq!(
            timed_out.to_string(),
            format!("timed out after 300ms waiting for brokers: b-{looks} (not created)")
        );
    }

    #[tokio::test]
    async fn several_watches_wake_only_once_each_has_listed() {
        let one = || stream::iter([Ok(())]).boxed();
        // Whichever lists first does not wake; the second does.
        let wakes: Vec<Result<()>> = all_listed(vec![one(), one()]).collect().await;
        assert_eq!(wakes.len(), 1);
        let three = stream::iter([Ok(()), Ok(()), Ok(())]).boxed();
        assert_eq!(all_listed(vec![three]).count().await, 3);
        let failing = stream::iter([Err(anyhow::anyhow!("forbidden"))]).boxed();
        let wakes: Vec<Result<()>> = all_listed(vec![failing]).collect().await;
        assert!(wakes[0].is_err());
    }
}
