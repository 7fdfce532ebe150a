//! Progress bars on stderr for long work (indicatif; drawn only on a
//! terminal, so pipes and tests stay clean).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar with `message`, counting `unit`s (its length is set as work is
/// discovered).
pub fn bar(message: impl Into<String>, unit: &str) -> ProgressBar {
    let template = format!("{{msg}} {{bar:40}} {{pos}}/{{len}} {unit} [{{elapsed_precise}} < {{eta}}]");
    let bar = ProgressBar::new(0)
        .with_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_message(message.into());
    bar
}

/// A `(done, total)` callback that drives `bar`.
pub fn callback(bar: &ProgressBar) -> impl FnMut(u64, u64) + '_ {
    move |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// A spinner for work of unknown length (e.g. scanning a bag that has no
/// summary); call `finish_and_clear` when done.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
