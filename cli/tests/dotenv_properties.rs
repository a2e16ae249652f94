//! Property tests of the `.env` reader over random and mutated input: nothing panics, names are
//! well formed, memory stays proportional to the input, and what a careful writer produces reads
//! back exactly. The machinery is the library's (`tests/properties`); `ZOOM_FUZZ_CASES` and
//! `ZOOM_FUZZ_SEED` set the number of inputs and the seed.

#[path = "../../tests/properties/mod.rs"]
mod properties;

// The reader is part of the binary, not of a library: compile its file into this test.
#[path = "../src/dotenv.rs"]
#[allow(dead_code)]
mod dotenv;

use properties::{Rng, cases, mutate, random_text, run_one, seed};

fn check_dotenv(text: &str) {
    if let Ok(pairs) = dotenv::parse(text) {
        for (name, _) in pairs {
            assert!(
                !name.is_empty() && !name.contains(['=', ' ', '\n']),
                "{name:?}"
            );
        }
    }
}

#[test]
fn dotenv_parser_survives_random_input_and_round_trips_what_it_writes() {
    let (seed, cases) = (seed() ^ 0xd07e, cases());
    let mut rng = Rng::new(seed);
    let corpus: Vec<String> = vec![
        "CLIENT_USERNAME=id\nCLIENT_PASSWORD=secret\nSUBSCRIPTION_ID=sub\n\nOAUTH_URL=https://zoom.us/oauth/token\nWS_URL=wss://ws.zoom.us/ws\n".into(),
        "# comment\nexport A=1 # note\nB='x # y'\nC=\"a\\\"b\\nc\"  # c\nD=\nE = spaced \r\n".into(),
        "\u{feff}ZOOM_CLIENT_ID=\"東京\"\nZOOM_HEARTBEAT_INTERVAL=0.5\n".into(),
    ];
    let mut worst = 0.0f64;
    for case in 0..cases {
        let input = if rng.chance(10) {
            random_text(&mut rng)
        } else {
            let base = rng.pick(&corpus).clone();
            mutate(&mut rng, &base, &corpus)
        };
        run_one(&input, seed, case, check_dotenv, &mut worst);
    }

    // What a careful writer produces, the parser reads back exactly.
    let alphabet: Vec<char> = "aZ09_ #=\"'\\\n\t\r$é東😀".chars().collect();
    let round_trips = cases / 10;
    for case in 0..round_trips {
        let pairs: Vec<(String, String)> = (0..1 + rng.below(5))
            .map(|i| {
                let value: String = (0..rng.below(30)).map(|_| *rng.pick(&alphabet)).collect();
                (format!("K{i}_{}", rng.below(1000)), value)
            })
            .collect();
        let mut text = String::new();
        for (name, value) in &pairs {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
                .replace('\t', "\\t")
                .replace('\r', "\\r");
            let export = if rng.chance(3) { "export " } else { "" };
            text.push_str(&format!("{export}{name}=\"{escaped}\"\n"));
        }
        let parsed = dotenv::parse(&text)
            .unwrap_or_else(|e| panic!("seed {seed:#x}, case {case}: {e} in {text:?}"));
        assert_eq!(parsed, pairs, "seed {seed:#x}, case {case}: {text:?}");
    }
    eprintln!(
        ".env parser: {cases} inputs and {round_trips} round trips (seed {seed:#x}), peak \
         memory at most {worst:.1} bytes per byte of inputs over 4 KiB"
    );
}
