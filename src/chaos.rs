//! Chaos plans: which pods to disrupt, when, and how; what came of it. Pure and seeded.
//!
//! Nothing here talks to the cluster: the command lists pods, hands them over as
//! [`Candidate`]s, acts on the [`Selection`], feeds pod events to a [`RecoveryTracker`] and
//! turns the [`ActionRecord`]s into a [`Report`].
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::component::Component;
use crate::manifests::{LABEL_COMPONENT, LABEL_PART_OF, PART_OF};

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

/// A set of pods disrupted and measured together: one Kapture component, or the pods of an
/// explicit `--selector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The component label value, or `selector` for a bare `--selector`.
    pub name: String,
    /// Label selector sent to the API server.
    pub selector: String,
    /// Only pods carrying the Kapture labels of this component may be chosen.
    pub kapture_only: bool,
}

/// The groups of a run, one per component in the order given (each once), narrowed by
/// `--selector` when both are given; a `--selector` alone may match pods that are not Kapture's.
pub fn groups(components: &[Component], user_selector: Option<&str>) -> Vec<Group> {
    let user = user_selector.map(str::trim).filter(|s| !s.is_empty());
    let mut names: Vec<&'static str> = Vec::new();
    for component in components.iter().map(|c| c.name()) {
        if !names.contains(&component) {
            names.push(component);
        }
    }
    if names.is_empty() {
        return user
            .map(|sel| Group {
                name: "selector".to_string(),
                selector: sel.to_string(),
                kapture_only: false,
            })
            .into_iter()
            .collect();
    }
    names
        .into_iter()
        .map(|component| {
            let mut selector = format!("{LABEL_PART_OF}={PART_OF},{LABEL_COMPONENT}={component}");
            if let Some(sel) = user {
                selector.push(',');
                selector.push_str(sel);
            }
            Group {
                name: component.to_string(),
                selector,
                kapture_only: true,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Victim selection
// ---------------------------------------------------------------------------------------------

/// How many pods of a group to disrupt per round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlastRadius {
    Count(u32),
    /// Percent of the group's pods, rounded down: never more than asked.
    Percent(u8),
}

/// A pod as the selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub created: Option<jiff::Timestamp>,
    pub ready: bool,
    pub terminating: bool,
    /// Kind of the controlling owner (StatefulSet pods come back under the same name).
    pub owner_kind: Option<String>,
    /// Its data volume is an emptyDir (`deploy --storage ephemeral`): removing the pod loses
    /// what it stored.
    pub ephemeral_data: bool,
}

impl Candidate {
    pub fn is_kapture(&self) -> bool {
        self.labels.get(LABEL_PART_OF).map(String::as_str) == Some(PART_OF)
    }

    fn belongs_to(&self, component: &str) -> bool {
        self.is_kapture() && self.labels.get(LABEL_COMPONENT).map(String::as_str) == Some(component)
    }

    fn age(&self, now: jiff::Timestamp) -> Option<Duration> {
        let created = self.created?;
        Duration::try_from(now.duration_since(created)).ok()
    }
}

/// The victims of one group in one round, and why others were passed over.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    pub victims: Vec<Candidate>,
    /// Pods of the group that exist and are not already terminating.
    pub existing: usize,
    /// Of those, old enough to be chosen.
    pub eligible: usize,
    pub too_young: Vec<String>,
    /// Pods the API returned that lack this component's Kapture labels (never chosen).
    pub rejected: Vec<String>,
    pub notes: Vec<String>,
}

/// Chooses the victims of `group` among `pods`. Terminating pods and (for component groups)
/// pods without the component's Kapture labels are never chosen; pods younger than
/// `minimum_age` are skipped. At most the asked number, at most the eligible pods; the choice
/// depends only on the pod names and `rng`.
pub fn select(
    group: &Group,
    pods: &[Candidate],
    radius: BlastRadius,
    minimum_age: Duration,
    now: jiff::Timestamp,
    rng: &mut ChaCha8Rng,
) -> Selection {
    let mut selection = Selection::default();
    let mut eligible: Vec<&Candidate> = Vec::new();
    for pod in pods {
        if group.kapture_only && !pod.belongs_to(&group.name) {
            selection.rejected.push(pod.name.clone());
            continue;
        }
        if pod.terminating {
            continue;
        }
        selection.existing += 1;
        match pod.age(now) {
            Some(age) if age >= minimum_age => eligible.push(pod),
            _ => selection.too_young.push(pod.name.clone()),
        }
    }
    selection.eligible = eligible.len();
    let wanted = match radius {
        BlastRadius::Count(n) => n as usize,
        BlastRadius::Percent(p) => selection.existing * usize::from(p) / 100,
    };
    let what = match radius {
        BlastRadius::Count(n) => format!("--count {n}"),
        BlastRadius::Percent(p) => format!("--percent {p}"),
    };
    if selection.existing == 0 {
        // Said once for all empty groups, by `notes`.
    } else if wanted == 0 {
        selection.notes.push(format!(
            "{}: {what} of {} pods rounds down to 0: nothing to disrupt",
            group.name, selection.existing
        ));
    } else if wanted > eligible.len() {
        let young = if selection.too_young.is_empty() {
            String::new()
        } else {
            format!(", {} younger than --minimum-age", selection.too_young.len())
        };
        selection.notes.push(format!(
            "{}: {what} asks for {wanted} pod(s) but only {} can be disrupted ({} exist{young}): disrupting {}",
            group.name,
            eligible.len(),
            selection.existing,
            eligible.len()
        ));
    }
    // Sort first so the API's list order cannot change the choice for a given seed.
    eligible.sort_by(|a, b| a.name.cmp(&b.name));
    eligible.shuffle(rng);
    eligible.truncate(wanted);
    eligible.sort_by(|a, b| a.name.cmp(&b.name));
    selection.victims = eligible.into_iter().cloned().collect();
    selection
}

/// The notes of a round's selections; the groups without pods are named in one line.
pub fn notes<'a>(selections: impl IntoIterator<Item = (&'a Group, &'a Selection)>) -> Vec<String> {
    let mut empty = Vec::new();
    let mut notes = Vec::new();
    for (group, selection) in selections {
        if selection.existing == 0 {
            empty.push(group.name.as_str());
        }
        notes.extend(selection.notes.iter().cloned());
        let ephemeral: Vec<&str> = selection
            .victims
            .iter()
            .filter(|v| v.ephemeral_data)
            .map(|v| v.name.as_str())
            .collect();
        if !ephemeral.is_empty() {
            notes.push(format!(
                "{}: {} keep(s) data on ephemeral storage (an emptyDir): removing it loses \
                 everything {} stored, and verify will count what it held as lost; deploy \
                 with --storage persistent to keep data across restarts",
                group.name,
                ephemeral.join(", "),
                group.name
            ));
        }
    }
    if !empty.is_empty() {
        notes.insert(0, format!("no pods to disrupt: {}", empty.join(", ")));
    }
    notes
}

// ---------------------------------------------------------------------------------------------
// Schedule
// ---------------------------------------------------------------------------------------------

/// When each round starts, as offsets from the start of the run.
pub fn schedule(
    rounds: Option<u32>,
    duration: Option<Duration>,
    interval: Option<Duration>,
) -> Result<Vec<Duration>, String> {
    match (rounds, duration, interval) {
        (Some(_), Some(_), _) => Err("--rounds and --duration exclude each other".into()),
        (Some(0), _, _) => Err("--rounds must be at least 1".into()),
        (None, None, None) | (Some(1), None, None) => Ok(vec![Duration::ZERO]),
        (Some(n), None, None) => Err(format!(
            "--rounds {n} needs --interval (time between rounds)"
        )),
        (None, Some(_), None) => Err("--duration needs --interval (time between rounds)".into()),
        (None, None, Some(_)) => Err("--interval needs --rounds or --duration".into()),
        (_, _, Some(i)) if i.is_zero() => Err("--interval must be longer than 0s".into()),
        (Some(n), None, Some(i)) => Ok((0..n).map(|k| i * k).collect()),
        (None, Some(d), Some(i)) => {
            if d.is_zero() {
                return Err("--duration must be longer than 0s".into());
            }
            // Rounds start at 0, i, 2i, ... strictly before the end of the duration.
            let mut offsets = Vec::new();
            let mut at = Duration::ZERO;
            while at < d {
                offsets.push(at);
                at += i;
            }
            Ok(offsets)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Delete,
    Evict,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Delete => "delete",
            Method::Evict => "evict",
        }
    }
}

/// A failed API call, as far as classification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub code: u16,
    pub message: String,
    /// Messages of the Status' `details.causes`.
    pub causes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Deleted,
    Evicted,
    /// The Eviction API answered 429: a PodDisruptionBudget allows no disruption now.
    BlockedByPdb {
        pdb: Option<String>,
    },
    NotFound,
    Forbidden {
        message: String,
    },
    Failed {
        code: u16,
        message: String,
    },
}

impl Outcome {
    /// Whether the pod was removed (so a replacement is expected).
    pub fn removed(&self) -> bool {
        matches!(self, Outcome::Deleted | Outcome::Evicted)
    }

    pub fn label(&self) -> String {
        match self {
            Outcome::Deleted => "deleted".into(),
            Outcome::Evicted => "evicted".into(),
            Outcome::BlockedByPdb { pdb: Some(name) } => format!("blocked by PDB {name}"),
            Outcome::BlockedByPdb { pdb: None } => "blocked by PDB".into(),
            Outcome::NotFound => "not found".into(),
            Outcome::Forbidden { .. } => "forbidden".into(),
            Outcome::Failed { code, .. } => format!("failed ({code})"),
        }
    }
}

/// What a delete or eviction came to, from the API's answer.
pub fn classify(method: Method, result: Result<(), &ApiFailure>) -> Outcome {
    match result {
        Ok(()) => match method {
            Method::Delete => Outcome::Deleted,
            Method::Evict => Outcome::Evicted,
        },
        Err(f) if f.code == 404 => Outcome::NotFound,
        Err(f) if f.code == 403 => Outcome::Forbidden {
            message: f.message.clone(),
        },
        Err(f) if f.code == 429 && method == Method::Evict => Outcome::BlockedByPdb {
            pdb: pdb_named_in(&f.causes),
        },
        Err(f) => Outcome::Failed {
            code: f.code,
            message: f.message.clone(),
        },
    }
}

/// The budget named in a 429's causes ("The disruption budget NAME needs 2 healthy pods ...").
pub fn pdb_named_in(causes: &[String]) -> Option<String> {
    causes.iter().find_map(|c| {
        let rest = c.strip_prefix("The disruption budget ")?;
        let name = rest.split_whitespace().next()?;
        Some(name.to_string())
    })
}

/// Whether a label selector matches `labels`. An empty selector matches everything in
/// policy/v1 and nothing in policy/v1beta1 (`empty_matches_all`).
pub fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
    empty_matches_all: bool,
) -> bool {
    let match_labels = selector.match_labels.as_ref();
    let expressions = selector.match_expressions.as_deref().unwrap_or_default();
    if match_labels.is_none_or(BTreeMap::is_empty) && expressions.is_empty() {
        return empty_matches_all;
    }
    let labels_ok = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = expressions.iter().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

// ---------------------------------------------------------------------------------------------
// Recovery
// ---------------------------------------------------------------------------------------------

struct Pending {
    action: usize,
    name: String,
    /// StatefulSet pods come back under their own name; others under any new name.
    same_name: bool,
    at: Instant,
}

/// Follows a group's pods (fed from a watch) and pairs each removed victim with the pod that
/// replaced it once that pod is Ready. Also keeps the group's ready count.
pub struct RecoveryTracker {
    /// Pods that existed before the actions: they cannot be a replacement.
    known: HashSet<String>,
    claimed: HashSet<String>,
    ready: BTreeMap<String, bool>,
    pending: Vec<Pending>,
}

impl RecoveryTracker {
    /// `known` are the UIDs of the group's pods before any action of the round.
    pub fn new(known: impl IntoIterator<Item = String>) -> Self {
        RecoveryTracker {
            known: known.into_iter().collect(),
            claimed: HashSet::new(),
            ready: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    /// Marks a pod as known (present before the actions), e.g. from the watch's initial list.
    pub fn know(&mut self, uid: &str) {
        self.known.insert(uid.to_string());
    }

    /// Victim `name` of action `action` was removed at `at`; wait for its replacement.
    pub fn expect(&mut self, action: usize, name: &str, owner_kind: Option<&str>, at: Instant) {
        self.pending.push(Pending {
            action,
            name: name.to_string(),
            same_name: owner_kind == Some("StatefulSet"),
            at,
        });
    }

    /// A pod was seen (`ready` false for terminating pods). Returns the actions it recovered,
    /// with the time from action to this observation.
    pub fn observe(
        &mut self,
        name: &str,
        uid: &str,
        ready: bool,
        at: Instant,
    ) -> Vec<(usize, Duration)> {
        self.ready.insert(uid.to_string(), ready);
        if !ready || self.known.contains(uid) || self.claimed.contains(uid) {
            return Vec::new();
        }
        let position = self
            .pending
            .iter()
            .position(|p| p.same_name && p.name == name)
            .or_else(|| self.pending.iter().position(|p| !p.same_name));
        match position {
            Some(i) => {
                let p = self.pending.remove(i);
                self.claimed.insert(uid.to_string());
                vec![(p.action, at.saturating_duration_since(p.at))]
            }
            None => Vec::new(),
        }
    }

    /// A pod is gone.
    pub fn remove(&mut self, uid: &str) {
        self.ready.remove(uid);
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Actions still waiting for a replacement.
    pub fn pending_actions(&self) -> Vec<usize> {
        self.pending.iter().map(|p| p.action).collect()
    }

    pub fn ready_count(&self) -> usize {
        self.ready.values().filter(|r| **r).count()
    }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recovery {
    /// A replacement became Ready.
    Recovered,
    /// No Ready replacement within --recovery-timeout.
    NotRecovered,
    /// Not measured: nothing was removed, --wait-recovery=false, or Ctrl-C ended the wait.
    NotWaited,
}

/// One delete or eviction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    pub round: u32,
    /// RFC 3339, UTC.
    pub time: String,
    pub component: String,
    pub pod: String,
    pub method: Method,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub recovery: Recovery,
    pub recovery_seconds: Option<f64>,
}

/// A value measured on a group just before and just after a round (Ready pods). The workload
/// impact over the whole run is `Report::impact`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub component: String,
    pub metric: String,
    pub before: f64,
    pub after: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundRecord {
    pub round: u32,
    pub started: String,
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub actions: usize,
    pub removed: usize,
    pub blocked: usize,
    /// Not found, forbidden or failed.
    pub other: usize,
    pub recovered: usize,
    pub not_recovered: usize,
    pub worst_recovery_seconds: Option<f64>,
    pub median_recovery_seconds: Option<f64>,
}

pub fn summarize(actions: &[ActionRecord]) -> Summary {
    let mut times: Vec<f64> = actions.iter().filter_map(|a| a.recovery_seconds).collect();
    times.sort_by(f64::total_cmp);
    Summary {
        actions: actions.len(),
        removed: actions.iter().filter(|a| a.outcome.removed()).count(),
        blocked: actions
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::BlockedByPdb { .. }))
            .count(),
        other: actions
            .iter()
            .filter(|a| !a.outcome.removed() && !matches!(a.outcome, Outcome::BlockedByPdb { .. }))
            .count(),
        recovered: actions
            .iter()
            .filter(|a| a.recovery == Recovery::Recovered)
            .count(),
        not_recovered: actions
            .iter()
            .filter(|a| a.recovery == Recovery::NotRecovered)
            .count(),
        worst_recovery_seconds: times.last().copied(),
        median_recovery_seconds: median(&times),
    }
}

/// Median of sorted values (mean of the middle two for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// What makes the run exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailOn {
    /// A removed pod had no Ready replacement within --recovery-timeout.
    NotRecovered,
    /// An eviction was blocked by a PodDisruptionBudget.
    Blocked,
    /// Any of the above, or an action that was not found, forbidden or failed.
    Any,
    /// Always exit 0 once the run completes.
    Never,
}

impl FailOn {
    pub const ALL: &'static [FailOn] = &[
        FailOn::NotRecovered,
        FailOn::Blocked,
        FailOn::Any,
        FailOn::Never,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            FailOn::NotRecovered => "not-recovered",
            FailOn::Blocked => "blocked",
            FailOn::Any => "any",
            FailOn::Never => "never",
        }
    }
}

/// Why the run fails under `fail_on`, or None when it passes.
pub fn verdict(summary: &Summary, fail_on: &[FailOn]) -> Option<String> {
    if fail_on.contains(&FailOn::Never) {
        return None;
    }
    let any = fail_on.contains(&FailOn::Any);
    let mut reasons = Vec::new();
    if (any || fail_on.contains(&FailOn::NotRecovered)) && summary.not_recovered > 0 {
        reasons.push(format!(
            "{} pod(s) not recovered in time",
            summary.not_recovered
        ));
    }
    if (any || fail_on.contains(&FailOn::Blocked)) && summary.blocked > 0 {
        reasons.push(format!(
            "{} eviction(s) blocked by a PodDisruptionBudget",
            summary.blocked
        ));
    }
    if any && summary.other > 0 {
        reasons.push(format!(
            "{} action(s) not found, forbidden or failed",
            summary.other
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// The result of a run, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub context: String,
    pub namespace: String,
    pub seed: u64,
    pub actions: Vec<ActionRecord>,
    pub rounds: Vec<RoundRecord>,
    pub summary: Summary,
    pub notes: Vec<String>,
    /// True when Ctrl-C ended the run early.
    pub interrupted: bool,
    /// Workload impact from the pods' metrics; null when not measured (`--impact`).
    pub impact: Option<crate::impact::Impact>,
}

/// One pod a dry run would disrupt (or passed over).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRow {
    pub component: String,
    pub pod: String,
    pub method: Method,
    /// Whether the pod carries the Kapture labels (pods of a bare --selector may not).
    pub kapture: bool,
    pub ready: bool,
    pub age_seconds: Option<u64>,
}

/// What a run would do: printed by --dry-run, and before the confirmation prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub context: String,
    pub namespace: String,
    pub seed: u64,
    pub method: Method,
    pub grace_period_seconds: Option<u32>,
    /// Round start offsets in seconds; victims of later rounds are chosen when they start.
    pub round_offsets_seconds: Vec<u64>,
    pub victims: Vec<PlanRow>,
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use rand::SeedableRng;

    fn now() -> jiff::Timestamp {
        "2026-01-01T12:00:00Z".parse().unwrap()
    }

    fn pod(name: &str, component: &str, age_secs: i64) -> Candidate {
        Candidate {
            name: name.into(),
            uid: format!("uid-{name}"),
            labels: BTreeMap::from([
                (LABEL_PART_OF.to_string(), PART_OF.to_string()),
                (LABEL_COMPONENT.to_string(), component.to_string()),
            ]),
            created: Some(now() - jiff::SignedDuration::from_secs(age_secs)),
            ready: true,
            terminating: false,
            owner_kind: Some("StatefulSet".into()),
            ephemeral_data: false,
        }
    }

    fn brokers(n: usize) -> Vec<Candidate> {
        (0..n)
            .map(|i| pod(&format!("kapture-kafka-broker-{i}"), "kafka-broker", 3600))
            .collect()
    }

    fn kafka() -> Group {
        groups(&[Component::KafkaBroker], None).remove(0)
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn names(s: &Selection) -> Vec<&str> {
        s.victims.iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn kafka_means_the_broker_component() {
        let g = kafka();
        assert_eq!(g.name, "kafka-broker");
        assert_eq!(
            g.selector,
            "app.kubernetes.io/part-of=kapture,app.kubernetes.io/component=kafka-broker"
        );
        assert!(g.kapture_only);
    }

    #[test]
    fn each_component_is_one_group_in_the_order_given() {
        let gs = groups(
            &[
                Component::Redis,
                Component::KafkaBroker,
                Component::Redis,
                Component::Zookeeper,
            ],
            None,
        );
        let names: Vec<_> = gs.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["redis", "kafka-broker", "zookeeper"]);
    }

    #[test]
    fn selector_narrows_components_or_stands_alone() {
        let g = groups(&[Component::Redis], Some("role=primary")).remove(0);
        assert!(g.selector.ends_with(",role=primary"));
        assert!(g.kapture_only);
        let g = groups(&[], Some("app=other")).remove(0);
        assert_eq!(
            (g.name.as_str(), g.selector.as_str(), g.kapture_only),
            ("selector", "app=other", false)
        );
        assert!(groups(&[], None).is_empty());
        assert!(groups(&[], Some("  ")).is_empty());
    }

    #[test]
    fn count_picks_exactly_that_many() {
        let s = select(
            &kafka(),
            &brokers(5),
            BlastRadius::Count(2),
            Duration::ZERO,
            now(),
            &mut rng(1),
        );
        assert_eq!(s.victims.len(), 2);
        assert_eq!((s.existing, s.eligible), (5, 5));
        assert!(s.notes.is_empty());
    }

    #[test]
    fn never_more_than_exist_and_says_so() {
        let s = select(
            &kafka(),
            &brokers(3),
            BlastRadius::Count(5),
            Duration::ZERO,
            now(),
            &mut rng(1),
        );
        assert_eq!(s.victims.len(), 3);
        assert_eq!(s.notes.len(), 1);
        assert!(
            s.notes[0].contains("--count 5 asks for 5 pod(s) but only 3 can be disrupted"),
            "{:?}",
            s.notes
        );
    }

    #[test]
    fn percent_rounds_down() {
        let pick = |n, p| {
            select(
                &kafka(),
                &brokers(n),
                BlastRadius::Percent(p),
                Duration::ZERO,
                now(),
                &mut rng(7),
            )
        };
        assert_eq!(pick(3, 50).victims.len(), 1);
        assert_eq!(pick(4, 50).victims.len(), 2);
        assert_eq!(pick(3, 66).victims.len(), 1);
        assert_eq!(pick(3, 67).victims.len(), 2);
        assert_eq!(pick(3, 100).victims.len(), 3);
        let none = pick(3, 10);
        assert!(none.victims.is_empty());
        assert!(
            none.notes[0].contains("rounds down to 0"),
            "{:?}",
            none.notes
        );
    }

    #[test]
    fn minimum_age_skips_young_pods() {
        let mut pods = brokers(3);
        pods[1].created = Some(now() - jiff::SignedDuration::from_secs(30));
        pods[2].created = None;
        let s = select(
            &kafka(),
            &pods,
            BlastRadius::Count(3),
            Duration::from_secs(60),
            now(),
            &mut rng(1),
        );
        assert_eq!(names(&s), vec!["kapture-kafka-broker-0"]);
        assert_eq!(
            s.too_young,
            vec!["kapture-kafka-broker-1", "kapture-kafka-broker-2"]
        );
        assert!(
            s.notes[0].contains("2 younger than --minimum-age"),
            "{:?}",
            s.notes
        );
        // Exactly the minimum age is old enough.
        let s = select(
            &kafka(),
            &pods,
            BlastRadius::Count(3),
            Duration::from_secs(30),
            now(),
            &mut rng(1),
        );
        assert_eq!(s.victims.len(), 2);
    }

    #[test]
    fn terminating_pods_are_not_counted_or_chosen() {
        let mut pods = brokers(3);
        pods[0].terminating = true;
        let s = select(
            &kafka(),
            &pods,
            BlastRadius::Count(3),
            Duration::ZERO,
            now(),
            &mut rng(1),
        );
        assert_eq!(s.existing, 2);
        assert!(!names(&s).contains(&"kapture-kafka-broker-0"));
    }

    #[test]
    fn seed_makes_the_choice_reproducible_whatever_the_list_order() {
        let pods = brokers(10);
        let mut reversed = pods.clone();
        reversed.reverse();
        let a = select(
            &kafka(),
            &pods,
            BlastRadius::Count(3),
            Duration::ZERO,
            now(),
            &mut rng(42),
        );
        let b = select(
            &kafka(),
            &reversed,
            BlastRadius::Count(3),
            Duration::ZERO,
            now(),
            &mut rng(42),
        );
        assert_eq!(names(&a), names(&b));
        // Different seeds do not all agree on a 3-of-10 choice.
        let distinct: HashSet<Vec<String>> = (0..20)
            .map(|seed| {
                select(
                    &kafka(),
                    &pods,
                    BlastRadius::Count(3),
                    Duration::ZERO,
                    now(),
                    &mut rng(seed),
                )
                .victims
                .into_iter()
                .map(|v| v.name)
                .collect()
            })
            .collect();
        assert!(distinct.len() > 5, "{distinct:?}");
    }

    #[test]
    fn pods_without_the_kapture_labels_need_a_selector() {
        let mut foreign = pod("intruder", "kafka-broker", 3600);
        foreign.labels.remove(LABEL_PART_OF);
        let other_component = pod("kapture-redis-0", "redis", 3600);
        let pods = vec![
            foreign.clone(),
            other_component,
            pod("kapture-kafka-broker-0", "kafka-broker", 3600),
        ];
        let s = select(
            &kafka(),
            &pods,
            BlastRadius::Count(10),
            Duration::ZERO,
            now(),
            &mut rng(1),
        );
        assert_eq!(names(&s), vec!["kapture-kafka-broker-0"]);
        assert_eq!(s.rejected, vec!["intruder", "kapture-redis-0"]);
        // With an explicit --selector alone, foreign pods may be chosen.
        let g = groups(&[], Some("app=x")).remove(0);
        let s = select(
            &g,
            &[foreign],
            BlastRadius::Count(1),
            Duration::ZERO,
            now(),
            &mut rng(1),
        );
        assert_eq!(names(&s), vec!["intruder"]);
        assert!(!s.victims[0].is_kapture());
    }

    #[test]
    fn empty_groups_share_one_note() {
        let gs = groups(
            &[
                Component::KafkaBroker,
                Component::Redis,
                Component::Postgres,
            ],
            None,
        );
        let empty = select(
            &gs[0],
            &[],
            BlastRadius::Count(1),
            Duration::ZERO,
            now(),
            &mut rng(1),
        );
        assert!(empty.victims.is_empty() && empty.notes.is_empty());
        let redis = [pod("kapture-redis-0", "redis", 3600)];
        let capped = select(
            &gs[1],
            &redis,
            BlastRadius::Count(2),
            Duration::ZERO,
            now(),
            &mut rng(1),
        );
        let notes_of =
            |capped: &Selection| notes([(&gs[0], &empty), (&gs[1], capped), (&gs[2], &empty)]);
        let notes = notes_of(&capped);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes[0], "no pods to disrupt: kafka-broker, postgres");
        assert!(
            notes[1].starts_with("redis: --count 2 asks for 2 pod(s)"),
            "{notes:?}"
        );
        // A victim whose data lives in an emptyDir is warned about before the action.
        let mut lossy = capped.clone();
        lossy.victims[0].ephemeral_data = true;
        let notes = notes_of(&lossy);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[2].starts_with("redis: kapture-redis-0 keep(s) data on ephemeral storage"),
            "{notes:?}"
        );
    }

    #[test]
    fn schedules() {
        let s = |r, d, i| schedule(r, d, i);
        let secs = Duration::from_secs;
        assert_eq!(s(None, None, None).unwrap(), vec![Duration::ZERO]);
        assert_eq!(s(Some(1), None, None).unwrap(), vec![Duration::ZERO]);
        assert_eq!(
            s(Some(3), None, Some(secs(10))).unwrap(),
            vec![secs(0), secs(10), secs(20)]
        );
        assert_eq!(
            s(None, Some(secs(60)), Some(secs(20))).unwrap(),
            vec![secs(0), secs(20), secs(40)]
        );
        assert_eq!(s(None, Some(secs(61)), Some(secs(20))).unwrap().len(), 4);
        assert_eq!(
            s(None, Some(secs(5)), Some(secs(20))).unwrap(),
            vec![secs(0)]
        );
        assert!(s(Some(3), None, None)
            .unwrap_err()
            .contains("needs --interval"));
        assert!(s(None, None, Some(secs(5)))
            .unwrap_err()
            .contains("needs --rounds or --duration"));
        assert!(s(None, Some(secs(5)), None)
            .unwrap_err()
            .contains("needs --interval"));
        assert!(s(Some(2), Some(secs(5)), Some(secs(1))).is_err());
        assert!(s(Some(0), None, None).is_err());
        assert!(s(Some(2), None, Some(Duration::ZERO)).is_err());
        assert!(s(None, Some(Duration::ZERO), Some(secs(1))).is_err());
    }

    fn failure(code: u16, causes: &[&str]) -> ApiFailure {
        ApiFailure {
            code,
            message: format!("status {code}"),
            causes: causes.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn outcomes_from_status_codes() {
        assert_eq!(classify(Method::Delete, Ok(())), Outcome::Deleted);
        assert_eq!(classify(Method::Evict, Ok(())), Outcome::Evicted);
        assert_eq!(
            classify(Method::Evict, Err(&failure(404, &[]))),
            Outcome::NotFound
        );
        assert!(matches!(
            classify(Method::Delete, Err(&failure(403, &[]))),
            Outcome::Forbidden { .. }
        ));
        let blocked = classify(
            Method::Evict,
            Err(&failure(429, &["The disruption budget kapture-kafka-broker needs 3 healthy pods and has 2 currently"])),
        );
        assert_eq!(
            blocked,
            Outcome::BlockedByPdb {
                pdb: Some("kapture-kafka-broker".into())
            }
        );
        assert_eq!(blocked.label(), "blocked by PDB kapture-kafka-broker");
        assert_eq!(
            classify(Method::Evict, Err(&failure(429, &[]))),
            Outcome::BlockedByPdb { pdb: None }
        );
        // A 429 on delete is throttling, not a budget.
        assert!(matches!(
            classify(Method::Delete, Err(&failure(429, &[]))),
            Outcome::Failed { code: 429, .. }
        ));
        assert!(matches!(
            classify(Method::Evict, Err(&failure(500, &[]))),
            Outcome::Failed { code: 500, .. }
        ));
    }

    #[test]
    fn pdb_name_from_the_still_processing_cause() {
        let causes =
            vec!["The disruption budget pdb-a is still being processed by the server.".to_string()];
        assert_eq!(pdb_named_in(&causes).as_deref(), Some("pdb-a"));
        assert_eq!(pdb_named_in(&["something else".to_string()]), None);
    }

    #[test]
    fn label_selectors_match_like_the_api_server() {
        let labels = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        let req = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        };
        let sel = |ml: &[(&str, &str)], me: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: Some(
                ml.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: Some(me),
        };
        assert!(selector_matches(
            &sel(&[("a", "1")], vec![]),
            &labels,
            false
        ));
        assert!(!selector_matches(
            &sel(&[("a", "2")], vec![]),
            &labels,
            false
        ));
        assert!(selector_matches(
            &sel(&[], vec![req("b", "In", &["2", "3"])]),
            &labels,
            false
        ));
        assert!(!selector_matches(
            &sel(&[], vec![req("b", "NotIn", &["2"])]),
            &labels,
            false
        ));
        assert!(selector_matches(
            &sel(&[], vec![req("c", "NotIn", &["2"])]),
            &labels,
            false
        ));
        assert!(selector_matches(
            &sel(&[("a", "1")], vec![req("b", "Exists", &[])]),
            &labels,
            false
        ));
        assert!(!selector_matches(
            &sel(&[("a", "1")], vec![req("b", "DoesNotExist", &[])]),
            &labels,
            false
        ));
        assert!(!selector_matches(
            &sel(&[], vec![req("a", "Bogus", &[])]),
            &labels,
            false
        ));
        assert!(!selector_matches(&LabelSelector::default(), &labels, false));
        assert!(selector_matches(&LabelSelector::default(), &labels, true));
    }

    #[test]
    fn statefulset_victims_recover_by_name() {
        let t0 = Instant::now();
        let mut tr = RecoveryTracker::new(["u0".to_string(), "u1".to_string()]);
        tr.observe("b-0", "u0", true, t0);
        tr.observe("b-1", "u1", true, t0);
        assert_eq!(tr.ready_count(), 2);
        tr.expect(0, "b-0", Some("StatefulSet"), t0);
        tr.remove("u0");
        assert_eq!(tr.ready_count(), 1);
        // A new pod under another name is not b-0's replacement.
        assert!(tr
            .observe("b-2", "u2", true, t0 + Duration::from_secs(1))
            .is_empty());
        // The recreated b-0, not ready yet, then ready.
        assert!(tr
            .observe("b-0", "u0b", false, t0 + Duration::from_secs(2))
            .is_empty());
        let got = tr.observe("b-0", "u0b", true, t0 + Duration::from_secs(3));
        assert_eq!(got, vec![(0, Duration::from_secs(3))]);
        assert_eq!(tr.pending(), 0);
        // Seeing it again recovers nothing more.
        assert!(tr
            .observe("b-0", "u0b", true, t0 + Duration::from_secs(4))
            .is_empty());
        assert_eq!(tr.ready_count(), 3);
    }

    #[test]
    fn deployment_victims_recover_first_come_first_served() {
        let t0 = Instant::now();
        let mut tr = RecoveryTracker::new(["ua".to_string(), "ub".to_string()]);
        tr.expect(3, "web-a", Some("ReplicaSet"), t0);
        tr.expect(4, "web-b", Some("ReplicaSet"), t0 + Duration::from_secs(1));
        // A pod that existed before becoming ready is no replacement.
        assert!(tr.observe("web-a", "ua", true, t0).is_empty());
        assert_eq!(
            tr.observe("web-x", "ux", true, t0 + Duration::from_secs(5)),
            vec![(3, Duration::from_secs(5))]
        );
        assert_eq!(tr.pending_actions(), vec![4]);
        tr.know("uy");
        assert!(tr.observe("web-y", "uy", true, t0).is_empty());
        assert_eq!(
            tr.observe("web-z", "uz", true, t0 + Duration::from_secs(3)),
            vec![(4, Duration::from_secs(2))]
        );
    }

    fn action(outcome: Outcome, recovery: Recovery, secs: Option<f64>) -> ActionRecord {
        ActionRecord {
            round: 1,
            time: "2026-01-01T12:00:00Z".into(),
            component: "kafka-broker".into(),
            pod: "p".into(),
            method: Method::Evict,
            outcome,
            recovery,
            recovery_seconds: secs,
        }
    }

    #[test]
    fn summary_statistics() {
        let actions = vec![
            action(Outcome::Evicted, Recovery::Recovered, Some(4.0)),
            action(Outcome::Evicted, Recovery::Recovered, Some(1.0)),
            action(Outcome::Evicted, Recovery::Recovered, Some(2.0)),
            action(Outcome::Evicted, Recovery::NotRecovered, None),
            action(
                Outcome::BlockedByPdb { pdb: None },
                Recovery::NotWaited,
                None,
            ),
            action(Outcome::NotFound, Recovery::NotWaited, None),
        ];
        let s = summarize(&actions);
        assert_eq!((s.actions, s.removed, s.blocked, s.other), (6, 4, 1, 1));
        assert_eq!((s.recovered, s.not_recovered), (3, 1));
        assert_eq!(s.worst_recovery_seconds, Some(4.0));
        assert_eq!(s.median_recovery_seconds, Some(2.0));
        let even = summarize(&actions[..2]);
        assert_eq!(even.median_recovery_seconds, Some(2.5));
        let none = summarize(&[]);
        assert_eq!(
            (none.worst_recovery_seconds, none.median_recovery_seconds),
            (None, None)
        );
    }

    #[test]
    fn verdicts() {
        let s = Summary {
            not_recovered: 1,
            blocked: 2,
            other: 1,
            ..Summary::default()
        };
        assert!(verdict(&s, &[FailOn::NotRecovered])
            .unwrap()
            .contains("1 pod(s) not recovered"));
        assert!(verdict(&s, &[FailOn::Blocked])
            .unwrap()
            .contains("2 eviction(s) blocked"));
        let any = verdict(&s, &[FailOn::Any]).unwrap();
        assert!(
            any.contains("not recovered") && any.contains("blocked") && any.contains("forbidden"),
            "{any}"
        );
        assert_eq!(verdict(&s, &[FailOn::Never, FailOn::Any]), None);
        let clean = Summary {
            blocked: 1,
            ..Summary::default()
        };
        assert_eq!(verdict(&clean, &[FailOn::NotRecovered]), None);
    }

    #[test]
    fn json_shape_of_an_action() {
        let a = action(
            Outcome::BlockedByPdb {
                pdb: Some("p".into()),
            },
            Recovery::NotWaited,
            None,
        );
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["outcome"], "blocked-by-pdb");
        assert_eq!(v["pdb"], "p");
        assert_eq!(v["method"], "evict");
        assert_eq!(v["recovery"], "not-waited");
        assert!(v["recoverySeconds"].is_null());
    }
}
