//! Dead letters: a message the router cannot route, or a sink cannot store, goes unchanged to
//! `transactions.dead-letter` with why and where it came from in headers, and the role moves
//! on. The role commits past it only after the dead-letter topic acknowledged it, so a
//! message is always in one of three places: its destination, the dead-letter topic, or
//! still uncommitted upstream. Never dropped silently, never a crash loop on one message.
use std::time::Duration;

use anyhow::{bail, Result};
use futures::future::join_all;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use kapture::component::Component;

use super::kafka_config;
use super::metrics::Metrics;
use super::names::Names;
use super::validation::Rejection;

/// Header names, on every dead letter.
pub const REASON: &str = "kapture-dead-letter-reason";
/// The reason's fixed label: the field, or `postgres`, `mongo`, `store_revenue_overflow`.
pub const LABEL: &str = "kapture-dead-letter-label";
/// The role that gave up on the message (`router`, `sink-postgres`, `sink-redis`, `sink-mongo`).
pub const ROLE: &str = "kapture-dead-letter-role";
pub const SOURCE_TOPIC: &str = "kapture-source-topic";
pub const SOURCE_PARTITION: &str = "kapture-source-partition";
pub const SOURCE_OFFSET: &str = "kapture-source-offset";

const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);

/// A message to dead-letter, with a short reason label for the metric and the full reason.
pub struct Letter<'a> {
    pub message: &'a OwnedMessage,
    /// Fixed label (e.g. a validation field, `postgres`), the metric's reason.
    pub label: &'static str,
    pub reason: String,
}

impl<'a> Letter<'a> {
    /// A message that breaks the validation rule, labelled by its field.
    pub fn rejected(message: &'a OwnedMessage, rejection: Rejection) -> Self {
        Self {
            message,
            label: rejection.field,
            reason: rejection.message,
        }
    }
}

/// Splits a batch into what `accept` takes (with what it made of each message) and letters for
/// what it refuses, in batch order: the first step of every consumer.
pub fn split<'a, T>(
    batch: &'a [OwnedMessage],
    mut accept: impl FnMut(&OwnedMessage) -> Result<T, Rejection>,
) -> (Vec<(&'a OwnedMessage, T)>, Vec<Letter<'a>>) {
    let mut taken = Vec::with_capacity(batch.len());
    let mut letters = Vec::new();
    for m in batch {
        match accept(m) {
            Ok(t) => taken.push((m, t)),
            Err(r) => letters.push(Letter::rejected(m, r)),
        }
    }
    (taken, letters)
}

/// Text headers, in order (pure).
pub fn text_headers(pairs: &[(&str, &str)]) -> OwnedHeaders {
    pairs.iter().fold(
        OwnedHeaders::new_with_capacity(pairs.len()),
        |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(*value),
            })
        },
    )
}

/// The headers of a dead letter (pure).
pub fn headers(
    role: Component,
    label: &str,
    reason: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> OwnedHeaders {
    let (partition, offset) = (partition.to_string(), offset.to_string());
    text_headers(&[
        (REASON, reason),
        (LABEL, label),
        (ROLE, role.name()),
        (SOURCE_TOPIC, topic),
        (SOURCE_PARTITION, &partition),
        (SOURCE_OFFSET, &offset),
    ])
}

/// The value of header `key` as text, if the message carries it.
pub fn header<'a>(headers: Option<&'a impl Headers>, key: &str) -> Option<&'a str> {
    let headers = headers?;
    (0..headers.count())
        .map(|i| headers.get(i))
        .find(|h| h.key == key)
        .and_then(|h| std::str::from_utf8(h.value?).ok())
}

/// The dead-letter producer of one role.
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    role: Component,
}

impl DeadLetters {
    pub fn new(bootstrap: &str, names: &Names, role: Component) -> Result<Self> {
        Ok(Self {
            producer: kafka_config::producer(bootstrap)?,
            topic: names.dead_letter_topic(),
            role,
        })
    }

    /// Writes every letter and waits for Kafka's acknowledgements. An error means some did
    /// not make it: the caller must not commit the batch (it will be redelivered and
    /// dead-lettered again; verify counts a dead-lettered id once).
    pub async fn send_all(&self, letters: &[Letter<'_>], metrics: &Metrics) -> Result<()> {
        let sends = letters.iter().map(|l| {
            let m = l.message;
            tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(),
                reason = %l.reason, "dead-lettering message");
            let mut record = FutureRecord::to(&self.topic)
                .payload(m.payload().unwrap_or_default())
                .headers(headers(
                    self.role,
                    l.label,
                    &l.reason,
                    m.topic(),
                    m.partition(),
                    m.offset(),
                ));
            if let Some(k) = m.key() {
                record = record.key(k);
            }
            self.producer.send(record, Timeout::After(PRODUCE_TIMEOUT))
        });
        let results = join_all(sends).await;
        let mut failed = 0;
        for (l, r) in letters.iter().zip(results) {
            match r {
                Ok(_) => metrics.dead_letter(l.label),
                Err((e, _)) => {
                    failed += 1;
                    metrics.fail("dead_letter");
                    tracing::error!(error = %e, "writing a dead letter failed");
                }
            }
        }
        if failed > 0 {
            bail!(
                "{failed} of {} dead letters could not be written to {}; exiting without committing",
                letters.len(),
                self.topic
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_order_and_labels_refusals_by_field() {
        let msg = |offset: i64, payload: &str| {
            OwnedMessage::new(
                Some(payload.as_bytes().to_vec()),
                None,
                "t".into(),
                rdkafka::Timestamp::NotAvailable,
                0,
                offset,
                None,
            )
        };
        let batch = [msg(0, "1"), msg(1, "x"), msg(2, "3")];
        let (taken, letters) = split(&batch, |m| {
            let text = std::str::from_utf8(m.payload().unwrap()).unwrap();
            text.parse::<u32>().map_err(|_| Rejection {
                field: "json",
                message: format!("json: {text:?} is not a number"),
            })
        });
        let taken: Vec<(i64, u32)> = taken.iter().map(|(m, n)| (m.offset(), *n)).collect();
        assert_eq!(taken, [(0, 1), (2, 3)]);
        assert_eq!(letters.len(), 1);
        assert_eq!((letters[0].message.offset(), letters[0].label), (1, "json"));
        assert_eq!(letters[0].reason, "json: \"x\" is not a number");
    }

    #[test]
    fn headers_carry_reason_role_and_source() {
        let h = headers(
            Component::SinkPostgres,
            "time",
            "time: out of range",
            "transactions.ca",
            3,
            42,
        );
        assert_eq!(header(Some(&h), REASON), Some("time: out of range"));
        assert_eq!(header(Some(&h), ROLE), Some("sink-postgres"));
        assert_eq!(header(Some(&h), LABEL), Some("time"));
        assert_eq!(header(Some(&h), SOURCE_TOPIC), Some("transactions.ca"));
        assert_eq!(header(Some(&h), SOURCE_PARTITION), Some("3"));
        assert_eq!(header(Some(&h), SOURCE_OFFSET), Some("42"));
        assert_eq!(header(Some(&h), "other"), None);
        assert_eq!(header(None::<&OwnedHeaders>, REASON), None);
    }
}
