//! `server/PROTOCOL.md` shows the limits once, in a table generated from
//! `limits::TABLE`; this checks it is current and that each documented value is the
//! constant's. `CANDLEFISH_UPDATE_PROTOCOL_MD=1` rewrites the table.
#![allow(clippy::unwrap_used, reason = "tests")]

use candlefish_protocol::limits::{self, TABLE, markdown_table};

const BEGIN: &str = "<!-- limits:begin (generated from protocol/src/limits.rs) -->\n";
const END: &str = "<!-- limits:end -->";

#[test]
fn the_limits_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/PROTOCOL.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let start = doc
        .find(BEGIN)
        .expect("PROTOCOL.md has no limits:begin marker")
        + BEGIN.len();
    let end = doc[start..].find(END).expect("no limits:end marker") + start;
    let want = markdown_table();
    if doc[start..end] != want {
        if std::env::var_os("CANDLEFISH_UPDATE_PROTOCOL_MD").is_some() {
            std::fs::write(path, format!("{}{want}{}", &doc[..start], &doc[end..])).unwrap();
        } else {
            panic!(
                "server/PROTOCOL.md's limits table is stale; rerun with \
                 CANDLEFISH_UPDATE_PROTOCOL_MD=1 to rewrite it"
            );
        }
    }
}

#[test]
fn documented_values_are_the_constants() {
    let value = |name: &str| TABLE.iter().find(|l| l.name == name).unwrap().value;
    let num = |name: &str| -> f64 {
        value(name)
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(num("PROTOCOL_VERSION"), f64::from(limits::PROTOCOL_VERSION));
    assert_eq!(num("MIN_FRAME_MS"), f64::from(limits::MIN_FRAME_MS));
    assert_eq!(num("MAX_FRAME_MS"), f64::from(limits::MAX_FRAME_MS));
    assert_eq!(num("MAX_FPS"), limits::MAX_FPS);
    assert_eq!(num("MAX_SAMPLES"), limits::MAX_SAMPLES as f64);
    assert_eq!(num("MAX_HIST_BUCKETS"), limits::MAX_HIST_BUCKETS as f64);
    assert_eq!(
        num("MAX_BATCH_SPAN_MS"),
        f64::from(limits::MAX_BATCH_SPAN_MS)
    );
    assert_eq!(num("MAX_BATCH_FRAMES"), limits::MAX_BATCH_FRAMES as f64);
    assert_eq!(num("SPAN_TOLERANCE"), limits::SPAN_TOLERANCE);
    assert_eq!(num("SPAN_SLACK_MS"), limits::SPAN_SLACK_MS);
    assert_eq!(num("MAX_LOAD_MS"), f64::from(limits::MAX_LOAD_MS));
    assert_eq!(num("MAX_CLS"), f64::from(limits::MAX_CLS));
    assert_eq!(num("MAX_MEMORY_BYTES"), limits::MAX_MEMORY_BYTES as f64);
    assert_eq!(num("MAX_DRAW_CALLS"), f64::from(limits::MAX_DRAW_CALLS));
    assert_eq!(num("MAX_TRIANGLES"), limits::MAX_TRIANGLES);
    assert_eq!(num("MAX_DRAWN"), f64::from(limits::MAX_DRAWN));
    assert_eq!(
        num("MAX_DROPPED_FRAMES"),
        f64::from(limits::MAX_DROPPED_FRAMES)
    );
    assert_eq!(
        num("MAX_DROPPED_BATCHES"),
        f64::from(limits::MAX_DROPPED_BATCHES)
    );
    assert_eq!(num("MAX_ERRORS"), limits::MAX_ERRORS as f64);
    assert_eq!(num("MAX_GOVERNOR_STEPS"), limits::MAX_GOVERNOR_STEPS as f64);
    assert_eq!(num("MAX_ADAPTER_CHARS"), limits::MAX_ADAPTER_CHARS as f64);
    assert_eq!(num("MAX_ERROR_CHARS"), limits::MAX_ERROR_CHARS as f64);
    assert_eq!(num("MAX_RUNG_CHARS"), limits::MAX_RUNG_CHARS as f64);
    assert_eq!(num("MAX_RELEASE_LEN"), limits::MAX_RELEASE_LEN as f64);
    assert_eq!(num("MIN_SESSION_LEN"), limits::MIN_SESSION_LEN as f64);
    assert_eq!(num("MAX_SESSION_LEN"), limits::MAX_SESSION_LEN as f64);
    assert_eq!(num("MAX_SEQ"), limits::MAX_SEQ as f64);
    assert_eq!(num("LEGACY_MAX_MEMORY_MIB"), limits::LEGACY_MAX_MEMORY_MIB);
    assert_eq!(
        num("LEGACY_MAX_TIMESTAMP_MS"),
        limits::LEGACY_MAX_TIMESTAMP_MS
    );
    let reserved = value("RESERVED_RELEASES");
    assert!(
        limits::RESERVED_RELEASES
            .iter()
            .all(|r| reserved.contains(&format!("`{r}`")))
    );
    assert_eq!(TABLE.len(), 30, "a new limit needs a row and a check here");
    // Derived limits stay derived.
    assert_eq!(
        limits::MAX_BATCH_FRAMES as f64,
        f64::from(limits::MAX_BATCH_SPAN_MS) * limits::MAX_FPS / 1000.0
    );
    assert_eq!(
        limits::LEGACY_MAX_MEMORY_MIB * 1_048_576.0,
        limits::MAX_MEMORY_BYTES as f64
    );
    assert!(limits::FRAME_EDGES_MS.windows(2).all(|w| w[0] < w[1]));
    assert!(limits::FRAME_EDGES_MS.len() <= limits::MAX_HIST_BUCKETS);
    assert_eq!(
        limits::FRAME_EDGES_MS.last().copied(),
        Some(f64::from(limits::MAX_FRAME_MS))
    );
}
