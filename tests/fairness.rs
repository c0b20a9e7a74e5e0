//! B8 across groups (P6). Under `Fair`, the group that just finished goes
//! to the back of the line when others wait, so a group waiting behind `W`
//! others gets a slot within `W + 1` slot releases. Under `Legacy` (the
//! TypeScript order) the finishing group drains its own backlog first, and
//! a busy group starves the others. Both are shown on the same scenario.

mod common;

use std::collections::HashMap;

use common::{Group, Pair};
use groupq::{Config, Policy, Record};

/// One slot. "hog" is running with `backlog` tasks queued behind it, and
/// adds one more task whenever a run of it starts if `refeed`; "b", "c" and
/// "d" each wait with a message, behind 0, 1 and 2 groups. Runs exit one at
/// a time for `releases` slot releases. Returns, for each start, the number
/// of releases before it and the group.
fn scenario(policy: Policy, backlog: u32, refeed: bool, releases: usize) -> Vec<(usize, Group)> {
    let mut p = Pair::new(Config::default().with_max_active(1).with_policy(policy));
    p.message("hog");
    for id in 0..backlog {
        p.task("hog", id, "backlog");
    }
    for g in ["b", "c", "d"] {
        p.message(g);
    }
    let mut starts = vec![(0, "hog")];
    let mut next_id = backlog;
    for released in 1..=releases {
        let (run, _, _) = *p.all_spawns().last().unwrap();
        p.exit(run);
        let Some((_, group, _)) = p.spawns().pop() else {
            break;
        };
        starts.push((released, group));
        if refeed && group == "hog" {
            p.task("hog", next_id, "more");
            next_id += 1;
        }
    }
    starts
}

fn first_start(starts: &[(usize, Group)], group: Group) -> Option<usize> {
    starts.iter().find(|s| s.1 == group).map(|s| s.0)
}

#[test]
fn under_fair_a_group_waiting_behind_w_others_starts_within_w_plus_one_releases() {
    let starts = scenario(Policy::Fair, 10, false, 30);
    for (group, w) in [("b", 0), ("c", 1), ("d", 2)] {
        assert_eq!(first_start(&starts, group), Some(w + 1), "{group}");
    }
}

#[test]
fn under_legacy_a_busy_group_with_a_backlog_makes_the_others_wait_for_all_of_it() {
    let starts = scenario(Policy::Legacy, 10, false, 30);
    // The hog runs its 10 tasks first: b starts after 11 releases, not 1.
    assert_eq!(first_start(&starts, "b"), Some(11));
    assert_eq!(first_start(&starts, "c"), Some(12));
    assert_eq!(first_start(&starts, "d"), Some(13));
}

#[test]
fn under_legacy_a_busy_group_that_keeps_adding_work_starves_another() {
    let starts = scenario(Policy::Legacy, 1, true, 100);
    assert_eq!(starts.len(), 101);
    assert!(starts.iter().all(|s| s.1 == "hog"), "b, c, d never start");
}

#[test]
fn under_fair_a_busy_group_that_keeps_adding_work_starves_nobody() {
    let starts = scenario(Policy::Fair, 1, true, 100);
    assert_eq!(first_start(&starts, "b"), Some(1));
    assert_eq!(first_start(&starts, "c"), Some(2));
    assert_eq!(first_start(&starts, "d"), Some(3));
    // And the hog still gets its turn: round robin.
    let order: Vec<Group> = starts.iter().take(9).map(|s| s.1).collect();
    assert_eq!(
        order,
        ["hog", "b", "c", "d", "hog", "hog", "hog", "hog", "hog"]
    );
}

#[test]
fn under_fair_every_waiting_group_starts_within_ahead_plus_one_releases() {
    // A longer deterministic mix of messages, tasks and exits over 3 slots;
    // the bound is read from the `Waiting { ahead }` records.
    let mut p = Pair::new(Config::default().with_max_active(3));
    let groups = ["g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"];
    let mut seed: u64 = 7;
    let mut rand = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut live = Vec::new();
    let mut releases = 0;
    let mut waiting: HashMap<Group, (usize, usize)> = HashMap::new();
    let mut waits = 0;
    for step in 0..2_000u32 {
        let group = groups[rand(groups.len() as u64) as usize];
        match rand(10) {
            0..=3 => p.message(group),
            4..=5 => {
                p.task(group, step % 3, "t");
            }
            _ if !live.is_empty() => {
                let run = live.swap_remove(rand(live.len() as u64) as usize);
                p.exit(run);
                releases += 1;
            }
            _ => continue,
        }
        for record in p.records() {
            if let Record::Waiting { group, ahead } = record {
                waiting.insert(group, (ahead, releases));
                waits += 1;
            }
        }
        for (run, group, _) in p.spawns() {
            live.push(run);
            if let Some((ahead, since)) = waiting.remove(group) {
                assert!(
                    releases - since <= ahead + 1,
                    "{group} waited {} releases behind {ahead}",
                    releases - since
                );
            }
        }
    }
    assert!(waits > 100, "the scenario must make groups wait: {waits}");
}
