//! The format's own tests: printing, parsing, round trips, errors.

use std::time::Duration;

use proptest::prelude::*;

use groupq::{
    Compaction, CompactionTrigger, Config, ContextStats, Exit, Input, Limits, Policy, RunId, Time,
    TurnReport, TurnStatus, Work,
};

use super::print::Str;
use super::*;
use crate::replay::{replay, ReplayError};
use groupq::Error;

fn step(ms: u64, input: Input<String, String, String>) -> Step {
    Step {
        now: Time::from_millis(ms),
        input,
    }
}

fn s(x: &str) -> String {
    x.to_string()
}

fn round_trip(trace: &Trace) -> Trace {
    let text = trace.to_string();
    Trace::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

const AWKWARD: &[&str] = &[
    "",
    " ",
    "two words",
    "\"",
    "say \"hi\"",
    "\\",
    "C:\\path",
    "#",
    "#general",
    "a#b",
    "run#1",
    "config",
    "ok",
    "x=y",
    "é日本🎉",
    "\n\r\t",
    "\u{0}\u{1b}\u{7f}\u{85}",
    "\u{a0}nbsp",
    "line\u{2028}sep",
    "\u{feff}bom",
    "\\u{41}",
    " lead and trail ",
];

#[test]
fn awkward_strings_round_trip_in_every_position() {
    for &a in AWKWARD {
        let trace = Trace {
            config: Config::default(),
            steps: vec![
                step(0, Input::Message { group: s(a) }),
                step(
                    1,
                    Input::Task {
                        group: s(a),
                        id: s(a),
                        payload: s(a),
                    },
                ),
                step(2, Input::Pipe { group: s(a) }),
            ],
        };
        assert_eq!(round_trip(&trace), trace, "string {a:?}");
    }
}

#[test]
fn plain_strings_print_bare_and_others_quoted() {
    assert_eq!(Str("chat-a").to_string(), "chat-a");
    assert_eq!(Str("a#b").to_string(), "a#b");
    assert_eq!(Str("é日本").to_string(), "é日本");
    assert_eq!(Str("").to_string(), "\"\"");
    assert_eq!(Str("#x").to_string(), "\"#x\"");
    assert_eq!(Str("a b").to_string(), "\"a b\"");
    assert_eq!(Str("q\"\\").to_string(), r#""q\"\\""#);
    assert_eq!(Str("\n\t\r\u{1b}").to_string(), r#""\n\t\r\u{1b}""#);
}

#[test]
fn printer_writes_the_full_config_and_canonical_steps() {
    let trace = Trace {
        config: Config::default()
            .with_max_active(2)
            .with_retry_base(Duration::from_nanos(5_000_000_250)),
        steps: vec![
            step(0, Input::Message { group: s("chat-a") }),
            step(
                0,
                Input::Task {
                    group: s("chat-a"),
                    id: s("t1"),
                    payload: s(""),
                },
            ),
            step(10, Input::Pipe { group: s("chat-a") }),
            step(15, Input::Idle { run: RunId::new(1) }),
            step(
                20,
                Input::Turn {
                    run: RunId::new(1),
                    report: TurnReport::delivered_reply()
                        .with_context(ContextStats {
                            tokens: Some(1600),
                            limit: Some(2000),
                            percent: Some(80),
                            compact_recommended: true,
                        })
                        .with_compaction(Compaction {
                            trigger: CompactionTrigger::Auto,
                            tokens_before: Some(1500),
                        }),
                },
            ),
            step(
                21,
                Input::Turn {
                    run: RunId::new(1),
                    report: TurnReport::error().with_context(ContextStats::default()),
                },
            ),
            step(
                22,
                Input::Turn {
                    run: RunId::new(1),
                    report: TurnReport::error().with_compaction(Compaction {
                        trigger: CompactionTrigger::Manual,
                        tokens_before: None,
                    }),
                },
            ),
            step(
                30,
                Input::Exited {
                    run: RunId::new(1),
                    exit: Exit::Failed,
                },
            ),
            Step {
                now: Time::from_nanos(5_030_000_250),
                input: Input::Timeout,
            },
            step(6000, Input::Shutdown),
        ],
    };
    let expected = "\
config max_active=2 policy=fair retry_base=5000.000250ms max_retries=5 idle_timeout=1800000ms warn_percent=70 auto_compact_percent=75 notices=on records=off kill_grace=30000ms max_turn_time=1800000ms max_compact_time=1800000ms max_run_time=off stall_timeout=off shutdown_grace=60000ms
0ms message chat-a
0ms task chat-a t1 \"\"
10ms pipe chat-a
15ms idle run#1
20ms turn run#1 ok replied delivered percent=80 tokens=1600 limit=2000 compact_recommended compaction=auto:1500
21ms turn run#1 error context
22ms turn run#1 error compaction=manual
30ms exited run#1 failed
5030.000250ms timeout
6000ms shutdown
";
    assert_eq!(trace.to_string(), expected);
    assert_eq!(Trace::parse(expected).unwrap(), trace);
}

#[test]
fn hand_written_forms_parse() {
    let text = "\u{feff}# a comment\r\n\
                \r\n\
                config   records=on\tmax_active=3  # trailing comment\r\n\
                \t1.5s message chat-a\n\
                2s task chat-a t1\n\
                2.000001ms turn run#1 delivered percent=5 replied ok\n\
                3ms exited run#1 clean#not-a-comment\n";
    let err = Trace::parse(text).unwrap_err();
    // `clean#not-a-comment` is one word: `#` starts a comment only at
    // the start of a word.
    assert_eq!(err.line, 7);
    assert_eq!(err.column, 18);
    let text = text.replace("clean#not-a-comment", "clean #a comment");
    let trace = Trace::parse(&text).unwrap();
    assert_eq!(
        trace.config,
        Config::default().with_records(true).with_max_active(3)
    );
    assert_eq!(
        trace.steps,
        vec![
            step(1500, Input::Message { group: s("chat-a") }),
            step(
                2000,
                Input::Task {
                    group: s("chat-a"),
                    id: s("t1"),
                    payload: s(""),
                }
            ),
            Step {
                now: Time::from_nanos(2_000_001),
                input: Input::Turn {
                    run: RunId::new(1),
                    report: TurnReport::delivered_reply().with_context(ContextStats {
                        percent: Some(5),
                        ..ContextStats::default()
                    }),
                },
            },
            step(
                3,
                Input::Exited {
                    run: RunId::new(1),
                    exit: Exit::Clean,
                }
            ),
        ]
    );
}

#[test]
fn quoting_never_changes_meaning() {
    assert_eq!(
        Trace::parse("\"0ms\" \"task\" g \"t1\" \"run#1\"").unwrap(),
        Trace::parse("0ms task g t1 run#1").unwrap()
    );
}

#[test]
fn empty_text_is_the_default_config_without_steps() {
    assert_eq!(Trace::parse("").unwrap(), Trace::default());
    assert_eq!(
        Trace::parse("\n# only comments\n\n").unwrap(),
        Trace::default()
    );
    assert_eq!(Trace::parse("config").unwrap(), Trace::default());
}

#[test]
fn times_parse_exactly_to_the_nanosecond_and_no_further() {
    for (text, nanos) in [
        ("0ms", 0),
        ("1500ms", 1_500_000_000),
        ("1500.000250ms", 1_500_000_250),
        ("1500.5ms", 1_500_500_000),
        ("0.000001ms", 1),
        ("2s", 2_000_000_000),
        ("2.000000001s", 2_000_000_001),
        ("007ms", 7_000_000),
        ("18446744073709.551615ms", u64::MAX),
    ] {
        let t = Trace::parse(&format!("{text} timeout")).unwrap();
        assert_eq!(t.steps[0].now, Time::from_nanos(nanos), "{text}");
    }
    for bad in [
        "1",
        "ms",
        "s",
        "1.ms",
        ".5ms",
        "1.0000001ms",
        "1.0000000001s",
        "+1ms",
        "-1ms",
        "1_000ms",
        "1e3ms",
        "1msx",
        "1 ms",
        "18446744073709.551616ms",
        "1min",
    ] {
        let err = Trace::parse(&format!("{bad} timeout")).unwrap_err();
        let word = bad.split(' ').next().unwrap();
        assert_eq!(err.kind, ParseErrorKind::InvalidTime(s(word)), "{bad}");
        assert_eq!((err.line, err.column), (1, 1));
    }
    let max = Time::MAX.to_string();
    let t = Trace::parse(&format!("{max} timeout")).unwrap();
    assert_eq!(t.steps[0].now, Time::MAX);
}

#[test]
fn durations_round_trip_up_to_duration_max() {
    for d in [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_millis(5000),
        Duration::new(u64::MAX, 999_999_999),
    ] {
        let trace = Trace {
            config: Config::default().with_retry_base(d).with_idle_timeout(d),
            steps: vec![],
        };
        assert_eq!(round_trip(&trace), trace, "{d:?}");
    }
    let err = Trace::parse("config retry_base=18446744073709551616s").unwrap_err();
    assert_eq!(
        err.kind,
        ParseErrorKind::InvalidValue {
            key: "retry_base",
            value: s("18446744073709551616s")
        }
    );
}

#[test]
fn every_parse_error_kind_reports_its_line_and_column() {
    use ParseErrorKind as K;
    let cases: Vec<(&str, usize, usize, ParseErrorKind)> = vec![
        ("0ms message \"abc", 1, 13, K::UnterminatedString),
        ("0ms message \"a\\qb\"", 1, 15, K::InvalidEscape(s("\\q"))),
        ("0ms message \"a\\", 1, 15, K::InvalidEscape(s("\\"))),
        (
            "0ms message \"\\u{110000}\"",
            1,
            14,
            K::InvalidEscape(s("\\u{110000}")),
        ),
        (
            "0ms message \"\\u{1234567}\"",
            1,
            14,
            K::InvalidEscape(s("\\u{1234567")),
        ),
        ("0ms message \"\\u41\"", 1, 14, K::InvalidEscape(s("\\u"))),
        ("0ms message \"\\u{}\"", 1, 14, K::InvalidEscape(s("\\u{}"))),
        (
            "0ms message \"\\u{4x}\"",
            1,
            14,
            K::InvalidEscape(s("\\u{4x")),
        ),
        ("0ms message a\"b", 1, 14, K::StrayQuote),
        ("0ms message \"a\"b", 1, 16, K::MissingSpace),
        ("5 message a", 1, 1, K::InvalidTime(s("5"))),
        ("0ms frob a", 1, 5, K::UnknownInput(s("frob"))),
        ("0ms", 1, 4, K::MissingArgument("an input")),
        ("0ms message", 1, 12, K::MissingArgument("a group")),
        ("0ms task g", 1, 11, K::MissingArgument("a task id")),
        ("0ms idle", 1, 9, K::MissingArgument("a run id like run#1")),
        (
            "0ms exited run#1  ",
            1,
            17,
            K::MissingArgument(
                "how the run exited: clean, failed, fatal or retry_after=<duration>",
            ),
        ),
        (
            "0ms turn run#1 replied",
            1,
            23,
            K::MissingArgument("a turn status, ok or error"),
        ),
        ("0ms timeout now", 1, 13, K::UnexpectedArgument(s("now"))),
        (
            "0ms task g t p extra",
            1,
            16,
            K::UnexpectedArgument(s("extra")),
        ),
        ("0ms idle 3", 1, 10, K::InvalidRun(s("3"))),
        ("0ms idle run#", 1, 10, K::InvalidRun(s("run#"))),
        ("0ms idle run#-1", 1, 10, K::InvalidRun(s("run#-1"))),
        (
            "0ms idle run#18446744073709551616",
            1,
            10,
            K::InvalidRun(s("run#18446744073709551616")),
        ),
        ("0ms turn run#1 ok happy", 1, 19, K::UnknownKey(s("happy"))),
        ("config speed=3", 1, 8, K::UnknownKey(s("speed"))),
        (
            "config max_active=2 max_active=3",
            1,
            21,
            K::DuplicateKey("max_active"),
        ),
        ("0ms turn run#1 ok error", 1, 19, K::DuplicateKey("status")),
        (
            "0ms turn run#1 ok replied replied",
            1,
            27,
            K::DuplicateKey("replied"),
        ),
        (
            "0ms turn run#1 ok percent=high",
            1,
            19,
            K::InvalidValue {
                key: "percent",
                value: s("high"),
            },
        ),
        (
            "0ms turn run#1 ok=1",
            1,
            16,
            K::InvalidValue {
                key: "status",
                value: s("1"),
            },
        ),
        (
            "0ms turn run#1 ok replied=yes",
            1,
            19,
            K::InvalidValue {
                key: "replied",
                value: s("yes"),
            },
        ),
        (
            "0ms turn run#1 ok compaction=later",
            1,
            19,
            K::InvalidValue {
                key: "compaction",
                value: s("later"),
            },
        ),
        (
            "0ms turn run#1 ok compaction=auto:",
            1,
            19,
            K::InvalidValue {
                key: "compaction",
                value: s("auto:"),
            },
        ),
        (
            "0ms exited run#1 maybe",
            1,
            18,
            K::InvalidValue {
                key: "exit",
                value: s("maybe"),
            },
        ),
        (
            "config max_active",
            1,
            8,
            K::InvalidValue {
                key: "max_active",
                value: s(""),
            },
        ),
        (
            "config warn_percent=256",
            1,
            8,
            K::InvalidValue {
                key: "warn_percent",
                value: s("256"),
            },
        ),
        (
            "config policy=random",
            1,
            8,
            K::InvalidValue {
                key: "policy",
                value: s("random"),
            },
        ),
        (
            "config notices=yes",
            1,
            8,
            K::InvalidValue {
                key: "notices",
                value: s("yes"),
            },
        ),
        ("config\nconfig", 2, 1, K::DuplicateConfig),
        ("0ms timeout\n  config", 2, 3, K::ConfigAfterSteps),
        ("# c\n\n\t0ms  frob", 3, 7, K::UnknownInput(s("frob"))),
        (
            "0ms message \"日本\" x",
            1,
            18,
            K::UnexpectedArgument(s("x")),
        ),
        (
            "0ms timeout\r\n0ms frob\r\n",
            2,
            5,
            K::UnknownInput(s("frob")),
        ),
    ];
    for (text, line, column, kind) in cases {
        let err = Trace::parse(text).unwrap_err();
        assert_eq!(
            err,
            ParseError { line, column, kind },
            "text {text:?} gave {err}"
        );
    }
}

#[test]
fn parse_errors_display_their_position() {
    let err = Trace::parse("0ms timeout\n0ms frob").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2, column 5: unknown input `frob` (expected message, task, pipe, idle, \
         heartbeat, turn, exited, timeout, shutdown, cancel, pause, resume or close)"
    );
}

#[test]
fn replay_writes_answers_commands_and_deadlines() {
    let trace = Trace::parse(
        "config max_active=1 records=on\n\
         0ms message a\n\
         1ms task \"b c\" t1 payload\n\
         2ms idle run#9\n\
         3ms turn run#1 ok replied delivered\n\
         4ms exited run#1 clean\n",
    )
    .unwrap();
    let mut out = String::new();
    let machine = replay(&trace, &mut out).unwrap();
    let expected = "\
0ms message a
  accepted
  record queued a messages
  spawn run#1 a messages
  wake-at 1800000ms
1ms task \"b c\" t1 payload
  queued
  record queued \"b c\" task t1
  record waiting \"b c\" ahead=0
  wake-at 1800000ms
2ms idle run#9
  rejected: run#9 was never issued
  wake-at 1800000ms
3ms turn run#1 ok replied delivered
  accepted
  close run#1 evicted
  wake-at 30003ms
4ms exited run#1 clean
  accepted
  spawn run#2 \"b c\" task t1 payload
  record drained \"b c\" run#2
  wake-at 1800004ms
";
    assert_eq!(out, expected);
    assert_eq!(machine.stats().live_runs, 1);
}

#[test]
fn replay_refuses_an_invalid_config() {
    let trace = Trace::parse("config max_active=0\n0ms message a").unwrap();
    let err = replay(&trace, &mut String::new()).unwrap_err();
    assert!(
        matches!(err, ReplayError::Config(Error::InvalidConfig(_))),
        "{err}"
    );
}

// ---- properties ----------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-c #\"\\\\=\n\r\t\u{0}é🎉\u{a0}\u{feff}]{0,6}",
        proptest::sample::select(AWKWARD).prop_map(s),
    ]
}

fn run() -> impl Strategy<Value = RunId> {
    any::<u64>().prop_map(RunId::new)
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..100_000).prop_map(Duration::from_millis),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let lifecycle = (
        duration(),
        duration(),
        duration(),
        proptest::option::of(duration()),
        proptest::option::of(duration()),
        duration(),
        duration(),
        any::<bool>(),
    );
    (
        (any::<usize>(), any::<bool>(), duration(), any::<u32>()),
        (
            duration(),
            any::<u8>(),
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
        ),
        lifecycle,
        (
            proptest::option::of(any::<usize>()),
            proptest::option::of(any::<usize>()),
        ),
        (
            any::<u32>(),
            proptest::option::of(any::<usize>()),
            proptest::option::of(duration()),
        ),
    )
        .prop_map(
            |(
                (max_active, legacy, base, retries),
                (idle, warn, auto, notices, records),
                (kill, turn, compact, life, stall, grace, start_grace, evict),
                (total, group),
                (aging, max_background, skip_window),
            )| {
                let background = groupq::Background::default()
                    .with_aging(aging)
                    .with_max_running(max_background)
                    .with_skip_window(skip_window);
                Config::default()
                    .with_background(background)
                    .with_max_queued_tasks(total)
                    .with_max_group_tasks(group)
                    .with_start_grace(start_grace)
                    .with_evict_idle(evict)
                    .with_kill_grace(kill)
                    .with_max_turn_time(turn)
                    .with_max_compact_time(compact)
                    .with_max_run_time(life)
                    .with_stall_timeout(stall)
                    .with_shutdown_grace(grace)
                    .with_max_active(max_active)
                    .with_policy(if legacy { Policy::Legacy } else { Policy::Fair })
                    .with_retry_base(base)
                    .with_max_retries(retries)
                    .with_idle_timeout(idle)
                    .with_warn_percent(warn)
                    .with_auto_compact_percent(auto)
                    .with_notices(notices)
                    .with_records(records)
            },
        )
}

fn turn_output() -> impl Strategy<Value = TurnReport> {
    let context = proptest::option::of(
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u32>()),
            any::<bool>(),
        )
            .prop_map(
                |(tokens, limit, percent, compact_recommended)| ContextStats {
                    tokens,
                    limit,
                    percent,
                    compact_recommended,
                },
            ),
    );
    let compaction = proptest::option::of(
        (any::<bool>(), proptest::option::of(any::<u64>())).prop_map(|(auto, tokens)| Compaction {
            trigger: if auto {
                CompactionTrigger::Auto
            } else {
                CompactionTrigger::Manual
            },
            tokens_before: tokens,
        }),
    );
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        context,
        compaction,
    )
        .prop_map(|(ok, replied, delivered, context, compaction)| TurnReport {
            status: if ok {
                TurnStatus::Success
            } else {
                TurnStatus::Error
            },
            replied,
            delivered,
            context,
            compaction,
        })
}

fn input() -> impl Strategy<Value = Input<String, String, String>> {
    prop_oneof![
        text().prop_map(|group| Input::Message { group }),
        (text(), text(), text()).prop_map(|(group, id, payload)| Input::Task {
            group,
            id,
            payload
        }),
        (text(), text(), text(), any::<bool>()).prop_map(|(group, id, payload, skip_if_active)| {
            Input::BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            }
        }),
        text().prop_map(|group| Input::Pipe { group }),
        run().prop_map(|run| Input::Idle { run }),
        run().prop_map(|run| Input::Heartbeat { run }),
        (text(), text()).prop_map(|(group, id)| Input::Cancel { group, id }),
        text().prop_map(|group| Input::Pause { group }),
        text().prop_map(|group| Input::Resume { group }),
        text().prop_map(|group| Input::CloseRun { group }),
        (run(), turn_output()).prop_map(|(run, output)| Input::Turn {
            run,
            report: output
        }),
        (run(), 0..4u8, duration()).prop_map(|(run, how, after)| Input::Exited {
            run,
            exit: match how {
                0 => Exit::Clean,
                1 => Exit::Failed,
                2 => Exit::Fatal,
                _ => Exit::RetryAfter(after),
            },
        }),
        (run(), text(), text(), 0..3u8).prop_map(|(run, id, payload, kind)| {
            Input::NeverLaunched {
                run,
                work: match kind {
                    0 => Work::Messages,
                    1 => Work::Task { id, payload },
                    _ => Work::Compact,
                },
            }
        }),
        (
            any::<usize>(),
            proptest::option::of(any::<usize>()),
            proptest::option::of(any::<usize>())
        )
            .prop_map(|(max_active, total, group)| Input::SetLimits {
                limits: Limits::new(max_active)
                    .with_max_queued_tasks(total)
                    .with_max_group_tasks(group),
            }),
        Just(Input::Timeout),
        Just(Input::Shutdown),
    ]
}

fn trace() -> impl Strategy<Value = Trace> {
    let step = (any::<u64>(), input()).prop_map(|(nanos, input)| Step {
        now: Time::from_nanos(nanos),
        input,
    });
    (config(), proptest::collection::vec(step, 0..12))
        .prop_map(|(config, steps)| Trace { config, steps })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_traces_parse_back_to_themselves(t in trace()) {
        let text = t.to_string();
        let back = Trace::parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&t), "text:\n{}", text);
    }

    /// What the `trace` fuzz target checks: any text gives a typed
    /// error or a trace, and a trace prints to text giving it back.
    #[test]
    fn any_text_parses_or_errs_and_parsed_traces_round_trip(
        text in prop_oneof![
            any::<String>(),
            // A valid trace with one character inserted or removed.
            (trace(), any::<prop::sample::Index>(), any::<char>(), any::<bool>()).prop_map(
                |(t, at, c, insert)| {
                    let mut chars: Vec<char> = t.to_string().chars().collect();
                    let i = at.index(chars.len());
                    if insert {
                        chars.insert(i, c);
                    } else {
                        chars.remove(i);
                    }
                    chars.into_iter().collect::<String>()
                }
            ),
            "([0-9.ms]{1,6}|config|#)?( (message|task|idle|output|exited|ok|run#1|\
              \"|\\\\u\\{41\\}|\\\\|[a-z=:0-9]{1,5}|[ \t\r\n#]))*",
        ]
    ) {
        if let Ok(t) = Trace::parse(&text) {
            let printed = t.to_string();
            prop_assert_eq!(Trace::parse(&printed), Ok(t), "printed:\n{}", printed);
        }
    }
}

#[test]
fn a_huge_bad_token_is_quoted_cut_not_whole() {
    let huge = "9".repeat(100_000);
    for text in [
        format!("0ms idle run#{huge}"),
        format!("{huge}x timeout"),
        format!("0ms frob{huge}"),
        format!("config max_active={huge}x"),
    ] {
        let err = Trace::parse(&text).unwrap_err();
        let shown = err.to_string();
        assert!(shown.chars().count() < 200, "{} chars", shown.len());
        assert!(shown.contains('…'), "{shown}");
    }
    // A short token is still quoted whole.
    let err = Trace::parse("0ms idle run#x").unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::InvalidRun(s("run#x")));
}
