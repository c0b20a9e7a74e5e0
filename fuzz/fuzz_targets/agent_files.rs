//! Everything read from an agent or its files, from arbitrary bytes: stdout
//! lines, `run.json`, message files and `agent.log`. Each read is an answer
//! or a typed error, never a panic; and a line that parses prints back to
//! the same value.

#![no_main]

use std::path::Path;

use groupq_agent::log;
use groupq_protocol::{AgentLine, Assignment, MessageFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = serde_json::from_slice::<AgentLine>(data) {
        let printed = serde_json::to_string(&line).expect("a parsed line prints");
        let again: AgentLine = serde_json::from_str(&printed).expect("and parses back");
        assert_eq!(again, line);
    }
    let _ = serde_json::from_slice::<Assignment>(data);
    let _ = serde_json::from_slice::<MessageFile>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = log::parse(Path::new("agent.log"), text);
    }
});
