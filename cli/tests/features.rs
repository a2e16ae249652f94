//! The rooms that are cargo features (`journal`, `relays`, `service`, `ha`): a binary built without
//! one refuses its flags and variables at start, exit 2, naming the feature, before anything is
//! sent; `--version` lists what was built. Run by `cargo test --no-default-features` too.

mod mock;
use mock::{MockZoom, cli, watchdog};

/// Arguments, variables, the feature that builds them, and whether this binary has it.
type Room = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
    bool,
);

/// Each flag or variable of a room.
const ROOMS: [Room; 8] = [
    (&["--exec", "cat"], &[], "relays", cfg!(feature = "relays")),
    (
        &["--forward", "http://127.0.0.1:9/hook"],
        &[],
        "relays",
        cfg!(feature = "relays"),
    ),
    (
        &["--spool", "journal"],
        &[],
        "journal",
        cfg!(feature = "journal"),
    ),
    (
        &[],
        &[("ZOOM_SPOOL_DIR", "journal")],
        "journal",
        cfg!(feature = "journal"),
    ),
    (
        &["--metrics-file", "m.prom"],
        &[],
        "service",
        cfg!(feature = "service"),
    ),
    (
        &["--give-up-after", "5"],
        &[],
        "service",
        cfg!(feature = "service"),
    ),
    (
        &["--ha-etcd", "http://127.0.0.1:9"],
        &[],
        "ha",
        cfg!(feature = "ha"),
    ),
    (
        &[],
        &[("ZOOM_HA_ETCD", "http://127.0.0.1:9")],
        "ha",
        cfg!(feature = "ha"),
    ),
];

#[test]
fn a_flag_whose_feature_is_not_built_is_exit_2_naming_the_feature() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    for (args, env, feature, built) in ROOMS {
        if built {
            continue; // the room's own tests run it
        }
        let output = cli(&mock)
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(
            stderr.contains(&format!("needs the cargo feature `{feature}`")),
            "{args:?} {env:?}: {stderr}"
        );
    }
    assert!(mock.token_requests().is_empty(), "nothing is sent");
}

#[test]
fn version_lists_the_features_built() {
    let mock = MockZoom::start();
    let output = cli(&mock).arg("--version").output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with("features:")).unwrap();
    for (_, _, feature, built) in ROOMS {
        assert_eq!(line.contains(feature), built, "{feature}: {line}");
    }
}
