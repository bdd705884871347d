//! Partition assignment plans. Pure: takes the current assignment and the target brokers,
//! returns where every replica should live. No I/O.
//!
//! Goals, in order: drain brokers that leave, place new partitions on the least loaded
//! brokers, then spread replicas so per-broker counts differ by at most one, moving as few
//! replicas as possible, and finally spread preferred leaders (the first replica) by
//! reordering replica lists, which moves no data.
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

pub type BrokerId = i32;

/// Topic name -> replicas of each partition (index = partition id; first replica = preferred
/// leader).
pub type Assignment = BTreeMap<String, Vec<Vec<BrokerId>>>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broker {
    pub id: BrokerId,
    /// `broker.rack`; replicas of one partition prefer different racks when loads tie.
    pub rack: Option<String>,
}

impl Broker {
    pub fn new(id: BrokerId) -> Self {
        Broker { id, rack: None }
    }
}

/// What to plan for.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub current: Assignment,
    /// The brokers that should hold replicas afterwards. Replicas elsewhere are drained.
    pub brokers: Vec<Broker>,
    /// Wanted partition count per topic (topics not named keep theirs).
    pub partitions: BTreeMap<String, usize>,
    /// Spread replicas and leaders over all brokers; without it only drains and new
    /// partitions change anything.
    pub rebalance: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no brokers to place replicas on")]
    NoBrokers,
    #[error("topic {0:?} not found")]
    UnknownTopic(String),
    #[error("topic {topic:?} has {current} partitions; Kafka cannot shrink it to {requested}")]
    Shrink {
        topic: String,
        current: usize,
        requested: usize,
    },
    #[error("topic {topic:?} has replication factor {replication_factor} but only {brokers} broker(s) would remain: every replica needs its own broker")]
    ReplicationFactor {
        topic: String,
        replication_factor: usize,
        brokers: usize,
    },
}

/// Partitions added to a topic, with the replicas of each new partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPartitions {
    pub topic: String,
    pub from: usize,
    pub to: usize,
    pub replicas: Vec<Vec<BrokerId>>,
}

/// A change of an existing partition's replica list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub topic: String,
    pub partition: i32,
    pub from: Vec<BrokerId>,
    pub to: Vec<BrokerId>,
    /// Brokers that must copy the partition (data moves).
    pub added: Vec<BrokerId>,
    pub removed: Vec<BrokerId>,
}

impl Move {
    /// Only the order changed: a new preferred leader, no data copied.
    pub fn is_leader_only(&self) -> bool {
        self.added.is_empty()
    }
}

/// Per-broker replica and preferred-leader counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerLoad {
    pub broker: BrokerId,
    pub replicas: usize,
    pub leaders: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub current: Assignment,
    pub target: Assignment,
    pub new_partitions: Vec<NewPartitions>,
    pub moves: Vec<Move>,
    pub load_before: Vec<BrokerLoad>,
    pub load_after: Vec<BrokerLoad>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.new_partitions.is_empty() && self.moves.is_empty()
    }
    /// Replicas that must be copied to a new broker.
    pub fn replica_moves(&self) -> usize {
        self.moves.iter().map(|m| m.added.len()).sum()
    }
    /// Partitions whose preferred leader changes.
    pub fn leader_changes(&self) -> usize {
        self.moves
            .iter()
            .filter(|m| m.from.first() != m.to.first())
            .count()
    }
    /// Moves that copy data (the ones a reassignment must wait for).
    pub fn data_moves(&self) -> impl Iterator<Item = &Move> {
        self.moves.iter().filter(|m| !m.is_leader_only())
    }
}

/// Replica and preferred-leader counts of `brokers` in `assignment` (brokers not listed are
/// ignored; listed brokers without replicas count zero).
pub fn load(assignment: &Assignment, brokers: &[BrokerId]) -> Vec<BrokerLoad> {
    let mut out: BTreeMap<BrokerId, BrokerLoad> = brokers
        .iter()
        .map(|&b| {
            (
                b,
                BrokerLoad {
                    broker: b,
                    replicas: 0,
                    leaders: 0,
                },
            )
        })
        .collect();
    for replicas in assignment.values().flatten() {
        for (i, b) in replicas.iter().enumerate() {
            if let Some(l) = out.get_mut(b) {
                l.replicas += 1;
                if i == 0 {
                    l.leaders += 1;
                }
            }
        }
    }
    out.into_values().collect()
}

/// Replica counts per broker, for the placement decisions.
struct Loads {
    replicas: BTreeMap<BrokerId, usize>,
    leaders: BTreeMap<BrokerId, usize>,
    racks: BTreeMap<BrokerId, Option<String>>,
}

impl Loads {
    fn new(assignment: &Assignment, brokers: &[Broker]) -> Self {
        let ids: Vec<_> = brokers.iter().map(|b| b.id).collect();
        let l = load(assignment, &ids);
        Loads {
            replicas: l.iter().map(|l| (l.broker, l.replicas)).collect(),
            leaders: l.iter().map(|l| (l.broker, l.leaders)).collect(),
            racks: brokers.iter().map(|b| (b.id, b.rack.clone())).collect(),
        }
    }

    fn rack_taken(&self, candidate: BrokerId, others: &[BrokerId]) -> bool {
        match self.racks.get(&candidate).cloned().flatten() {
            Some(rack) => others
                .iter()
                .any(|o| self.racks.get(o).cloned().flatten().as_deref() == Some(rack.as_str())),
            None => false,
        }
    }

    /// The least loaded broker not in `exclude`, preferring a rack not used by `others`.
    fn least_loaded(&self, exclude: &[BrokerId], others: &[BrokerId]) -> Option<BrokerId> {
        self.replicas
            .iter()
            .filter(|(b, _)| !exclude.contains(b))
            .min_by_key(|(&b, &n)| (n, self.rack_taken(b, others), self.leaders[&b], b))
            .map(|(&b, _)| b)
    }

    fn add(&mut self, broker: BrokerId, leader: bool) {
        *self.replicas.get_mut(&broker).expect("known broker") += 1;
        if leader {
            *self.leaders.get_mut(&broker).expect("known broker") += 1;
        }
    }

    fn remove(&mut self, broker: BrokerId, leader: bool) {
        if let Some(n) = self.replicas.get_mut(&broker) {
            *n -= 1;
            if leader {
                *self.leaders.get_mut(&broker).expect("known broker") -= 1;
            }
        }
    }
}

pub fn plan(request: &PlanRequest) -> Result<Plan, PlanError> {
    if request.brokers.is_empty() {
        return Err(PlanError::NoBrokers);
    }
    let broker_ids: Vec<BrokerId> = request.brokers.iter().map(|b| b.id).collect();
    for (topic, &requested) in &request.partitions {
        let current = request
            .current
            .get(topic)
            .ok_or_else(|| PlanError::UnknownTopic(topic.clone()))?
            .len();
        if requested < current {
            return Err(PlanError::Shrink {
                topic: topic.clone(),
                current,
                requested,
            });
        }
    }
    for (topic, partitions) in &request.current {
        let rf = replication_factor(partitions);
        if rf > broker_ids.len() {
            return Err(PlanError::ReplicationFactor {
                topic: topic.clone(),
                replication_factor: rf,
                brokers: broker_ids.len(),
            });
        }
    }

    let mut target = request.current.clone();
    let mut loads = Loads::new(&target, &request.brokers);
    drain(&mut target, &mut loads, &broker_ids);
    let new_partitions = grow(&mut target, &mut loads, &request.partitions);
    if request.rebalance {
        spread_replicas(&mut target, &mut loads);
        spread_leaders(&mut target, &broker_ids);
    }

    let mut all_before: Vec<BrokerId> = broker_ids.clone();
    all_before.extend(request.current.values().flatten().flatten().copied());
    all_before.sort_unstable();
    all_before.dedup();
    Ok(Plan {
        moves: diff(&request.current, &target),
        load_before: load(&request.current, &all_before),
        load_after: load(&target, &broker_ids),
        current: request.current.clone(),
        target,
        new_partitions,
    })
}

fn replication_factor(partitions: &[Vec<BrokerId>]) -> usize {
    partitions.iter().map(Vec::len).max().unwrap_or(0)
}

/// Replaces every replica on a broker outside the target set, in place (a leaving leader's
/// successor takes its position, so leadership is rebalanced later, not here).
///
/// Where each replica goes is a matching problem: every broker has room up to its balanced
/// count (the most loaded keep the larger share), and a replica may only go where its
/// partition is not. Greedy choices can waste room a constrained partition needed, which costs
/// extra moves later, so the replicas are matched with augmenting paths first; whatever does
/// not fit goes to the least loaded broker it may use.
fn drain(target: &mut Assignment, loads: &mut Loads, brokers: &[BrokerId]) {
    let mut leaving: Vec<(String, usize, usize)> = Vec::new();
    for (topic, partitions) in target.iter() {
        for (p, replicas) in partitions.iter().enumerate() {
            for (i, b) in replicas.iter().enumerate() {
                if !brokers.contains(b) {
                    leaving.push((topic.clone(), p, i));
                }
            }
        }
    }
    if leaving.is_empty() {
        return;
    }
    let allowed: Vec<Vec<BrokerId>> = leaving
        .iter()
        .map(|(topic, p, _)| {
            let replicas = &target[topic][*p];
            brokers
                .iter()
                .copied()
                .filter(|b| !replicas.contains(b))
                .collect()
        })
        .collect();
    let siblings: Vec<(&str, usize)> = leaving.iter().map(|(t, p, _)| (t.as_str(), *p)).collect();
    let mut room = balanced_room(loads, leaving.len());
    let mut matched: Vec<Option<BrokerId>> = vec![None; leaving.len()];
    for item in 0..leaving.len() {
        let mut visited = BTreeSet::new();
        augment(
            item,
            &allowed,
            &siblings,
            &mut room,
            &mut matched,
            &mut visited,
        );
    }
    for (item, (topic, p, i)) in leaving.into_iter().enumerate() {
        let replicas = &mut target.get_mut(&topic).expect("topic")[p];
        let dest = match matched[item] {
            Some(b) if !replicas.contains(&b) => b,
            _ => {
                let others: Vec<_> = replicas
                    .iter()
                    .copied()
                    .filter(|b| brokers.contains(b))
                    .collect();
                loads
                    .least_loaded(replicas, &others)
                    .expect("replication factor checked against the broker count")
            }
        };
        loads.add(dest, i == 0);
        replicas[i] = dest;
    }
}

/// How many more replicas each broker can take before exceeding its balanced count, once
/// `incoming` more replicas are spread. The most loaded brokers get the larger counts.
fn balanced_room(loads: &Loads, incoming: usize) -> BTreeMap<BrokerId, usize> {
    let total: usize = loads.replicas.values().sum::<usize>() + incoming;
    let n = loads.replicas.len();
    let (floor, extra) = (total / n, total % n);
    let mut order: Vec<(BrokerId, usize)> = loads.replicas.iter().map(|(&b, &l)| (b, l)).collect();
    order.sort_by_key(|&(b, l)| (std::cmp::Reverse(l), b));
    order
        .into_iter()
        .enumerate()
        .map(|(i, (b, l))| (b, (floor + usize::from(i < extra)).saturating_sub(l)))
        .collect()
}

/// Kuhn's augmenting path for one item: take free room, or move an item already placed on a
/// full broker elsewhere. Two leaving replicas of one partition (`siblings`) never share a
/// broker.
fn augment(
    item: usize,
    allowed: &[Vec<BrokerId>],
    siblings: &[(&str, usize)],
    room: &mut BTreeMap<BrokerId, usize>,
    matched: &mut [Option<BrokerId>],
    visited: &mut BTreeSet<BrokerId>,
) -> bool {
    for &b in &allowed[item] {
        let sibling_there = (0..matched.len())
            .any(|j| j != item && siblings[j] == siblings[item] && matched[j] == Some(b));
        if sibling_there || !visited.insert(b) {
            continue;
        }
        if room[&b] > 0 {
            *room.get_mut(&b).expect("broker") -= 1;
            matched[item] = Some(b);
            return true;
        }
        let holders: Vec<usize> = (0..matched.len())
            .filter(|&j| matched[j] == Some(b))
            .collect();
        for j in holders {
            matched[j] = None;
            if augment(j, allowed, siblings, room, matched, visited) {
                matched[item] = Some(b);
                return true;
            }
            matched[j] = Some(b);
        }
    }
    false
}

/// Adds partitions; each new partition's leader is the broker with the fewest replicas (then
/// fewest leaders), followers the next least loaded.
fn grow(
    target: &mut Assignment,
    loads: &mut Loads,
    wanted: &BTreeMap<String, usize>,
) -> Vec<NewPartitions> {
    let mut out = Vec::new();
    for (topic, &count) in wanted {
        let partitions = target.get_mut(topic).expect("topics checked");
        let from = partitions.len();
        if count <= from {
            continue;
        }
        let rf = replication_factor(partitions).max(1);
        let mut added = Vec::new();
        for _ in from..count {
            let mut replicas: Vec<BrokerId> = Vec::with_capacity(rf);
            for i in 0..rf {
                let b = loads
                    .least_loaded(&replicas, &replicas)
                    .expect("replication factor checked");
                loads.add(b, i == 0);
                replicas.push(b);
            }
            added.push(replicas);
        }
        partitions.extend(added.iter().cloned());
        out.push(NewPartitions {
            topic: topic.clone(),
            from,
            to: count,
            replicas: added,
        });
    }
    out
}

/// Moves one replica at a time from the most to the least loaded broker until counts differ
/// by at most one. Each move is necessary: the most loaded broker is above the balanced count
/// and the least loaded below it, so the number of moves is the minimum.
fn spread_replicas(target: &mut Assignment, loads: &mut Loads) {
    let total: usize = loads.replicas.values().sum();
    for _ in 0..=total {
        let (&max_b, &max_n) = loads
            .replicas
            .iter()
            .max_by_key(|(&b, &n)| (n, std::cmp::Reverse(b)))
            .expect("brokers");
        let (&min_b, &min_n) = loads
            .replicas
            .iter()
            .min_by_key(|(&b, &n)| (n, b))
            .expect("brokers");
        if max_n <= min_n + 1 {
            return;
        }
        // Some partition on max_b lacks min_b (max_b holds more partitions than min_b).
        // Prefer moving a follower (keeps leadership) and one whose other replicas do not
        // already use min_b's rack.
        let mut best: Option<((bool, bool), String, usize, usize)> = None;
        for (topic, partitions) in target.iter() {
            for (p, replicas) in partitions.iter().enumerate() {
                let Some(pos) = replicas.iter().position(|&b| b == max_b) else {
                    continue;
                };
                if replicas.contains(&min_b) {
                    continue;
                }
                let others: Vec<_> = replicas.iter().copied().filter(|&b| b != max_b).collect();
                let score = (pos == 0, loads.rack_taken(min_b, &others));
                if best.as_ref().is_none_or(|(s, ..)| score < *s) {
                    best = Some((score, topic.clone(), p, pos));
                }
            }
        }
        let Some((_, topic, p, pos)) = best else {
            return;
        };
        target.get_mut(&topic).expect("topic")[p][pos] = min_b;
        loads.remove(max_b, pos == 0);
        loads.add(min_b, pos == 0);
    }
}

/// Spreads preferred leaders by reordering replica lists. From a broker with the most
/// leaders, a breadth-first search follows "broker u leads a partition that v replicates"
/// until it reaches a broker with at least two leaders fewer; shifting leadership along
/// that path moves one leadership without changing anyone else's count.
fn spread_leaders(target: &mut Assignment, brokers: &[BrokerId]) {
    let partitions: usize = target.values().map(Vec::len).sum();
    for _ in 0..=partitions * brokers.len() {
        let leaders: BTreeMap<BrokerId, usize> = load(target, brokers)
            .into_iter()
            .map(|l| (l.broker, l.leaders))
            .collect();
        let max_n = leaders.values().copied().max().unwrap_or(0);
        let mut improved = false;
        for (&start, _) in leaders.iter().filter(|(_, &n)| n == max_n) {
            if let Some(path) = leader_path(target, &leaders, start) {
                for (topic, p, to) in path {
                    let replicas = &mut target.get_mut(&topic).expect("topic")[p];
                    let pos = replicas
                        .iter()
                        .position(|&b| b == to)
                        .expect("replica on path");
                    replicas.swap(0, pos);
                }
                improved = true;
                break;
            }
        }
        if !improved {
            return;
        }
    }
}

/// A path of (topic, partition, new leader) steps from `start` to a broker with at most
/// leaders(start) - 2 leaders, or None.
fn leader_path(
    target: &Assignment,
    leaders: &BTreeMap<BrokerId, usize>,
    start: BrokerId,
) -> Option<Vec<(String, usize, BrokerId)>> {
    let goal = leaders[&start].checked_sub(2)?;
    let mut came_from: BTreeMap<BrokerId, (BrokerId, String, usize)> = BTreeMap::new();
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for (topic, partitions) in target {
            for (p, replicas) in partitions.iter().enumerate() {
                if replicas.first() != Some(&u) {
                    continue;
                }
                for &v in &replicas[1..] {
                    if !leaders.contains_key(&v) || !seen.insert(v) {
                        continue;
                    }
                    came_from.insert(v, (u, topic.clone(), p));
                    if leaders[&v] <= goal {
                        let mut path = Vec::new();
                        let mut at = v;
                        while at != start {
                            let (prev, topic, p) = came_from[&at].clone();
                            path.push((topic, p, at));
                            at = prev;
                        }
                        path.reverse();
                        return Some(path);
                    }
                    queue.push_back(v);
                }
            }
        }
    }
    None
}

/// Changes of existing partitions between two assignments (new partitions are not moves).
fn diff(current: &Assignment, target: &Assignment) -> Vec<Move> {
    let mut moves = Vec::new();
    for (topic, partitions) in current {
        for (p, from) in partitions.iter().enumerate() {
            let to = &target[topic][p];
            if from == to {
                continue;
            }
            moves.push(Move {
                topic: topic.clone(),
                partition: p as i32,
                from: from.clone(),
                to: to.clone(),
                added: to.iter().copied().filter(|b| !from.contains(b)).collect(),
                removed: from.iter().copied().filter(|b| !to.contains(b)).collect(),
            });
        }
    }
    moves
}

/// Partition counts wanted from the flags: `exact` for the named topics, or at least
/// `per_broker * brokers` for the named topics (all but Kafka's internal `__` topics when none
/// are named). `exact` may be below today's count; [`plan`] refuses that.
pub fn partition_targets(
    current: &Assignment,
    brokers: usize,
    per_broker: Option<u32>,
    exact: Option<u32>,
    topics: &[String],
) -> BTreeMap<String, usize> {
    if let Some(n) = exact {
        return topics.iter().map(|t| (t.clone(), n as usize)).collect();
    }
    let Some(k) = per_broker else {
        return BTreeMap::new();
    };
    let wanted = k as usize * brokers;
    let chosen: Vec<&String> = if topics.is_empty() {
        current.keys().filter(|t| !t.starts_with("__")).collect()
    } else {
        topics.iter().collect()
    };
    chosen
        .into_iter()
        .filter(|t| current.get(*t).is_none_or(|ps| ps.len() < wanted))
        .map(|t| (t.clone(), wanted))
        .collect()
}

/// Maps broker ids to StatefulSet ordinals: from advertised hosts named
/// `<statefulset>-<ordinal>.…` when every broker has one, else by id order.
pub fn broker_ordinals(
    statefulset: &str,
    brokers: &[(BrokerId, String)],
) -> BTreeMap<BrokerId, usize> {
    let prefix = format!("{statefulset}-");
    let parsed: Option<BTreeMap<BrokerId, usize>> = brokers
        .iter()
        .map(|(id, host)| {
            let first = host.split('.').next()?;
            Some((*id, first.strip_prefix(&prefix)?.parse().ok()?))
        })
        .collect();
    match parsed {
        Some(map) if !map.is_empty() => map,
        _ => {
            let mut ids: Vec<_> = brokers.iter().map(|(id, _)| *id).collect();
            ids.sort_unstable();
            ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect()
        }
    }
}

/// The brokers that leave when the StatefulSet shrinks to `replicas` (ordinal at or above
/// it), and how many replicas they still hold.
pub fn leaving_brokers(
    ordinals: &BTreeMap<BrokerId, usize>,
    replicas: usize,
    assignment: &Assignment,
) -> (Vec<BrokerId>, usize) {
    let leaving: Vec<BrokerId> = ordinals
        .iter()
        .filter(|(_, &o)| o >= replicas)
        .map(|(&id, _)| id)
        .collect();
    let hosted = assignment
        .values()
        .flatten()
        .flatten()
        .filter(|b| leaving.contains(b))
        .count();
    (leaving, hosted)
}

/// Broker ids the StatefulSet will have at `replicas`, predicted from today's id/ordinal
/// pairs: ordinals keep a constant offset from ids (node.id = offset + ordinal).
pub fn predict_broker_ids(ordinals: &BTreeMap<BrokerId, usize>, replicas: usize) -> Vec<BrokerId> {
    let offset = ordinals
        .iter()
        .map(|(&id, &o)| id - o as BrokerId)
        .min()
        .unwrap_or(0);
    (0..replicas).map(|o| offset + o as BrokerId).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn brokers(ids: impl IntoIterator<Item = BrokerId>) -> Vec<Broker> {
        ids.into_iter().map(Broker::new).collect()
    }

    fn assignment(topics: &[(&str, &[&[BrokerId]])]) -> Assignment {
        topics
            .iter()
            .map(|(t, ps)| (t.to_string(), ps.iter().map(|r| r.to_vec()).collect()))
            .collect()
    }

    /// Round-robin assignment as Kafka creates it on `n` brokers.
    fn round_robin(topic: &str, partitions: usize, rf: usize, n: i32) -> Assignment {
        let ps = (0..partitions)
            .map(|p| (0..rf).map(|r| ((p + r) as i32) % n).collect())
            .collect();
        BTreeMap::from([(topic.to_string(), ps)])
    }

    fn spread(loads: &[BrokerLoad], f: impl Fn(&BrokerLoad) -> usize) -> usize {
        let max = loads.iter().map(&f).max().unwrap();
        let min = loads.iter().map(&f).min().unwrap();
        max - min
    }

    fn assert_valid(plan: &Plan, brokers: &[BrokerId]) {
        for (topic, partitions) in &plan.target {
            let rf = replication_factor(&plan.current[topic]);
            for (p, replicas) in partitions.iter().enumerate() {
                let unique: BTreeSet<_> = replicas.iter().collect();
                assert_eq!(
                    unique.len(),
                    replicas.len(),
                    "{topic}/{p} has a broker twice: {replicas:?}"
                );
                assert_eq!(
                    replicas.len(),
                    rf,
                    "{topic}/{p} lost its replication factor"
                );
                assert!(
                    replicas.iter().all(|b| brokers.contains(b)),
                    "{topic}/{p} on a broker outside {brokers:?}"
                );
            }
        }
    }

    /// The fewest replica copies that reach a balanced count: the most loaded brokers keep the
    /// `ceil` slots, everybody else must come down to `floor`.
    fn minimum_copies(assignment: &Assignment, brokers: &[BrokerId]) -> usize {
        let mut loads: Vec<usize> = load(assignment, brokers)
            .iter()
            .map(|l| l.replicas)
            .collect();
        let total: usize = assignment.values().flatten().map(Vec::len).sum();
        let off: usize = total - loads.iter().sum::<usize>(); // replicas on leaving brokers
        loads.sort_unstable_by(|a, b| b.cmp(a));
        let (floor, extra) = (total / brokers.len(), total % brokers.len());
        off + loads
            .iter()
            .enumerate()
            .map(|(i, &l)| l.saturating_sub(floor + usize::from(i < extra)))
            .sum::<usize>()
    }

    #[test]
    fn balanced_assignment_yields_no_moves() {
        let current = round_robin("t", 6, 3, 3);
        let plan = plan(&PlanRequest {
            current,
            brokers: brokers(0..3),
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn plans_are_idempotent() {
        let current = round_robin("t", 12, 3, 3);
        let first = plan(&PlanRequest {
            current,
            brokers: brokers(0..5),
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        let again = plan(&PlanRequest {
            current: first.target.clone(),
            brokers: brokers(0..5),
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn scale_up_spreads_replicas_and_leaders_with_minimal_moves() {
        let current = round_robin("t", 12, 3, 3); // 36 replicas on 3 brokers
        let ids: Vec<_> = (0..6).collect();
        let plan = plan(&PlanRequest {
            current: current.clone(),
            brokers: brokers(0..6),
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        assert_valid(&plan, &ids);
        assert!(
            plan.load_after.iter().all(|l| l.replicas == 6),
            "{:?}",
            plan.load_after
        );
        assert!(
            plan.load_after.iter().all(|l| l.leaders == 2),
            "{:?}",
            plan.load_after
        );
        assert_eq!(plan.replica_moves(), 18); // half the replicas go to the 3 new brokers
        assert_eq!(plan.replica_moves(), minimum_copies(&current, &ids));
    }

    #[test]
    fn without_rebalance_nothing_moves() {
        let current = round_robin("t", 12, 3, 3);
        let plan = plan(&PlanRequest {
            current,
            brokers: brokers(0..6),
            rebalance: false,
            ..Default::default()
        })
        .unwrap();
        assert!(plan.is_empty());
    }

    #[test]
    fn new_partitions_go_to_least_loaded_brokers() {
        let current = round_robin("t", 3, 1, 3);
        let plan = plan(&PlanRequest {
            current,
            brokers: brokers(0..6),
            partitions: BTreeMap::from([("t".to_string(), 6)]),
            rebalance: false,
        })
        .unwrap();
        assert!(plan.moves.is_empty());
        assert_eq!(plan.new_partitions.len(), 1);
        let placed: BTreeSet<_> = plan.new_partitions[0]
            .replicas
            .iter()
            .flatten()
            .copied()
            .collect();
        assert_eq!(placed, BTreeSet::from([3, 4, 5]));
        assert_eq!(
            (plan.new_partitions[0].from, plan.new_partitions[0].to),
            (3, 6)
        );
    }

    #[test]
    fn growing_partitions_with_rebalance_needs_no_moves_when_new_ones_fill_the_gap() {
        let current = round_robin("t", 6, 2, 3); // 12 replicas on 3 brokers, 4 each
        let ids: Vec<_> = (0..6).collect();
        let plan = plan(&PlanRequest {
            current,
            brokers: brokers(0..6),
            partitions: BTreeMap::from([("t".to_string(), 12)]),
            rebalance: true,
        })
        .unwrap();
        assert_valid(&plan, &ids);
        assert_eq!(plan.replica_moves(), 0, "{:?}", plan.moves);
        assert!(
            plan.load_after.iter().all(|l| l.replicas == 4),
            "{:?}",
            plan.load_after
        );
        assert!(
            spread(&plan.load_after, |l| l.leaders) <= 1,
            "{:?}",
            plan.load_after
        );
    }

    #[test]
    fn refuses_to_shrink() {
        let err = plan(&PlanRequest {
            current: round_robin("t", 6, 1, 3),
            brokers: brokers(0..3),
            partitions: BTreeMap::from([("t".to_string(), 3)]),
            rebalance: true,
        })
        .unwrap_err();
        assert_eq!(
            err,
            PlanError::Shrink {
                topic: "t".into(),
                current: 6,
                requested: 3
            }
        );
        assert!(err.to_string().contains("cannot shrink"));
    }

    #[test]
    fn unknown_topic_is_an_error() {
        let err = plan(&PlanRequest {
            current: round_robin("t", 1, 1, 1),
            brokers: brokers(0..1),
            partitions: BTreeMap::from([("nope".to_string(), 3)]),
            rebalance: true,
        })
        .unwrap_err();
        assert_eq!(err, PlanError::UnknownTopic("nope".into()));
    }

    #[test]
    fn replication_factor_above_broker_count_is_an_error() {
        let err = plan(&PlanRequest {
            current: round_robin("t", 3, 3, 3),
            brokers: brokers(0..2),
            rebalance: true,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                PlanError::ReplicationFactor {
                    replication_factor: 3,
                    brokers: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(plan(&PlanRequest::default()).unwrap_err() == PlanError::NoBrokers);
    }

    #[test]
    fn scale_down_drains_exactly_the_leaving_brokers() {
        // 5 brokers, balanced; brokers 3 and 4 leave.
        let first = plan(&PlanRequest {
            current: round_robin("t", 10, 2, 5),
            brokers: brokers(0..5),
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        let current = first.target;
        let on_leaving = current
            .values()
            .flatten()
            .flatten()
            .filter(|&&b| b >= 3)
            .count();
        let ids: Vec<_> = (0..3).collect();
        let plan = plan(&PlanRequest {
            current: current.clone(),
            brokers: brokers(0..3),
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        assert_valid(&plan, &ids);
        assert_eq!(
            plan.replica_moves(),
            on_leaving,
            "only replicas of leaving brokers move: {:?}",
            plan.moves
        );
        assert!(
            plan.data_moves().all(|m| m.removed.iter().all(|&b| b >= 3)),
            "{:?}",
            plan.moves
        );
        assert!(spread(&plan.load_after, |l| l.replicas) <= 1);
        assert!(spread(&plan.load_after, |l| l.leaders) <= 1);
        // Draining is not optional: it happens without --rebalance too.
        let norebalance = super::plan(&PlanRequest {
            current,
            brokers: brokers(0..3),
            rebalance: false,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(norebalance.replica_moves(), on_leaving);
        assert_valid(&norebalance, &ids);
    }

    #[test]
    fn leaders_spread_by_reordering_without_copies() {
        // Every partition led by broker 0: replicas balanced, leaders not.
        let current = assignment(&[("t", &[&[0, 1], &[0, 2], &[0, 1], &[0, 2], &[1, 2], &[2, 1]])]);
        let plan = plan(&PlanRequest {
            current,
            brokers: brokers(0..3),
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(plan.replica_moves(), 0);
        assert!(plan.moves.iter().all(Move::is_leader_only));
        assert!(plan.leader_changes() > 0);
        assert!(
            plan.load_after.iter().all(|l| l.leaders == 2),
            "{:?}",
            plan.load_after
        );
    }

    #[test]
    fn racks_of_one_work_and_distinct_racks_are_preferred() {
        let one_rack: Vec<Broker> = (0..4)
            .map(|id| Broker {
                id,
                rack: Some("a".into()),
            })
            .collect();
        let plan1 = plan(&PlanRequest {
            current: round_robin("t", 8, 2, 2),
            brokers: one_rack,
            rebalance: true,
            ..Default::default()
        })
        .unwrap();
        assert_valid(&plan1, &[0, 1, 2, 3]);
        assert!(plan1.load_after.iter().all(|l| l.replicas == 4));

        // Brokers 0,2 in rack a; 1,3 in rack b. New partitions mix racks.
        let racks: Vec<Broker> = (0..4)
            .map(|id| Broker {
                id,
                rack: Some(if id % 2 == 0 { "a" } else { "b" }.into()),
            })
            .collect();
        let plan2 = plan(&PlanRequest {
            current: assignment(&[("t", &[&[0, 1]])]),
            brokers: racks,
            partitions: BTreeMap::from([("t".to_string(), 4)]),
            rebalance: false,
        })
        .unwrap();
        for replicas in &plan2.new_partitions[0].replicas {
            assert_ne!(replicas[0] % 2, replicas[1] % 2, "same rack: {replicas:?}");
        }
    }

    #[test]
    fn seeded_random_assignments_balance_minimally() {
        for seed in 0..500u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let before = rng.random_range(1..=6);
            let after = rng.random_range(1..=8);
            let rf = rng.random_range(1..=before.min(after).min(3));
            let mut current = Assignment::new();
            for t in 0..rng.random_range(1..=4) {
                let parts = (0..rng.random_range(1..=20))
                    .map(|_| {
                        let mut ids: Vec<BrokerId> = (0..before).collect();
                        // random distinct replicas, skewed towards low ids
                        let mut r = Vec::new();
                        while r.len() < rf as usize {
                            let i = rng
                                .random_range(0..ids.len())
                                .min(rng.random_range(0..ids.len()));
                            r.push(ids.remove(i));
                        }
                        r
                    })
                    .collect();
                current.insert(format!("topic-{t}"), parts);
            }
            let ids: Vec<BrokerId> = (0..after).collect();
            let p = plan(&PlanRequest {
                current: current.clone(),
                brokers: brokers(0..after),
                rebalance: true,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_valid(&p, &ids);
            assert!(
                spread(&p.load_after, |l| l.replicas) <= 1,
                "seed {seed}: {:?}",
                p.load_after
            );
            assert!(
                spread(&p.load_after, |l| l.leaders) <= 1,
                "seed {seed}: leaders {:?}",
                p.load_after
            );
            // Scaling up is exactly minimal. When brokers leave, the constraint that a
            // partition cannot hold a broker twice can make the counting bound unreachable;
            // each drained replica then costs at most one extra move.
            let drained = current
                .values()
                .flatten()
                .flatten()
                .filter(|&&b| b >= after)
                .count();
            let minimum = minimum_copies(&current, &ids);
            assert!(
                (minimum..=minimum + drained).contains(&p.replica_moves()),
                "seed {seed}: {} moves, minimum {minimum} (+{drained}) {before}->{after} rf {rf} {current:?}",
                p.replica_moves()
            );
            if after >= before {
                assert_eq!(
                    p.replica_moves(),
                    minimum,
                    "seed {seed}: scale-up not minimal"
                );
            }
            let again = plan(&PlanRequest {
                current: p.target.clone(),
                brokers: brokers(0..after),
                rebalance: true,
                ..Default::default()
            })
            .unwrap();
            assert!(
                again.is_empty(),
                "seed {seed}: not idempotent {:?}",
                again.moves
            );
        }
    }

    #[test]
    fn partition_targets_follow_the_flags() {
        let mut current = round_robin("a", 4, 1, 2);
        current.extend(round_robin("b", 12, 1, 2));
        current.extend(round_robin("__consumer_offsets", 1, 1, 2));
        // 2 per broker on 4 brokers: a grows to 8, b already has more, internal topics stay.
        assert_eq!(
            partition_targets(&current, 4, Some(2), None, &[]),
            BTreeMap::from([("a".to_string(), 8)])
        );
        assert_eq!(
            partition_targets(&current, 8, Some(2), None, &["b".into()]),
            BTreeMap::from([("b".to_string(), 16)])
        );
        assert_eq!(
            partition_targets(&current, 4, None, Some(3), &["a".into()]),
            BTreeMap::from([("a".to_string(), 3)])
        );
        assert!(partition_targets(&current, 4, None, None, &[]).is_empty());
    }

    #[test]
    fn leaving_brokers_are_the_highest_ordinals_with_their_replicas() {
        let ordinals = BTreeMap::from([(100, 0), (101, 1), (102, 2), (103, 3)]);
        let current = assignment(&[("t", &[&[100, 102], &[102, 103], &[101, 100]])]);
        assert_eq!(leaving_brokers(&ordinals, 2, &current), (vec![102, 103], 3));
        assert_eq!(leaving_brokers(&ordinals, 4, &current), (vec![], 0));
        let empty = assignment(&[("t", &[&[100, 101]])]);
        assert_eq!(leaving_brokers(&ordinals, 2, &empty), (vec![102, 103], 0));
    }

    #[test]
    fn ordinals_come_from_advertised_hosts_or_id_order() {
        let hosts = vec![
            (
                101,
                "kapture-kafka-broker-1.kapture-kafka-broker.ns.svc".to_string(),
            ),
            (
                100,
                "kapture-kafka-broker-0.kapture-kafka-broker.ns.svc".to_string(),
            ),
        ];
        let map = broker_ordinals("kapture-kafka-broker", &hosts);
        assert_eq!(map, BTreeMap::from([(100, 0), (101, 1)]));
        assert_eq!(predict_broker_ids(&map, 4), vec![100, 101, 102, 103]);
        let plain = vec![(7, "127.0.0.1".to_string()), (3, "127.0.0.1".to_string())];
        assert_eq!(
            broker_ordinals("kapture-kafka-broker", &plain),
            BTreeMap::from([(3, 0), (7, 1)])
        );
    }
}
