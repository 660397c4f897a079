//! Progress on stderr for the long commands (import, snapshot, drift over files, train):
//! a bar with rows per second and the time left where the work comes in steps (an
//! import's reading and storing), a spinner with the elapsed time and the stage where one
//! call does it all (a bulk read is one query). Drawn only when stderr is a terminal and
//! the answer is not `--json`, so piped and scripted runs print nothing extra.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Whether progress is drawn: stderr is a terminal and the answer is text.
fn shown(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

fn target(json: bool) -> ProgressDrawTarget {
    if shown(json) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar over `len` units (`unit`: "rows", or "bytes" for a file being read) with the rate
/// and the time left.
pub(crate) fn bar(len: u64, what: &str, unit: &str, json: bool) -> ProgressBar {
    let template = match unit {
        "bytes" => "{msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)".to_string(),
        unit => format!("{{msg}} {{bar:30}} {{human_pos}}/{{human_len}} {unit} ({{rate}}/s, {{eta}} left)"),
    };
    let bar = ProgressBar::with_draw_target(Some(len), target(json)).with_message(what.to_string());
    bar.set_style(
        ProgressStyle::with_template(&template)
            .expect("a valid template")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", HumanCount(state.per_sec() as u64));
            })
            .progress_chars("=> "),
    );
    bar
}

/// A spinner naming the stage, with the time since it started.
pub(crate) fn spinner(what: &str, json: bool) -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, target(json)).with_message(what.to_string());
    spinner.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"));
    if !spinner.is_hidden() {
        spinner.enable_steady_tick(Duration::from_millis(100));
    }
    spinner
}
