//! Progress bars for long commands: steps, loss, steps/s and ETA on stderr; silent with
//! `--quiet`/`--json` or when stderr is not a terminal (indicatif hides itself then).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over optimiser steps or fields.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar named `what` over `total` items, starting at `done`; hidden when `quiet`.
    pub fn new(what: &str, total: usize, done: usize, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(total as u64),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {pos}/{len} {msg} {per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar.set_position(done as u64);
        Self { bar }
    }

    /// Moves to `step` and shows `loss`.
    pub fn update(&mut self, step: usize, loss: f32) {
        self.bar.set_position(step as u64);
        self.bar.set_message(format!("loss {loss:.4}"));
    }

    /// Moves one item forward with a message.
    pub fn tick(&mut self, message: &str) {
        self.bar.inc(1);
        self.bar.set_message(message.to_string());
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
