//! How background tasks give way to the conversation (B16): how long a
//! waiting background group lets conversations pass it, how many
//! background runs may be live, and how long a group's conversation is
//! remembered for tasks that ask to be skipped.

use std::time::Duration;

use crate::config::ConfigError;

/// Settings of background tasks ([`Config::with_background`](crate::Config::with_background), B16).
///
/// A [`BackgroundTask`](crate::BackgroundTask) starts only when its group
/// has no run, no unread messages and no normal jobs; a group waiting with
/// background work only waits behind every group waiting with a
/// conversation, but `aging` conversation starts at most: then it goes
/// first.
///
/// ```
/// use groupq::{Background, Config};
/// use std::time::Duration;
/// let background = Background::default()
///     .with_max_running(Some(1))
///     .with_skip_window(Some(Duration::from_secs(600)));
/// let config = Config::default().with_background(background);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct Background {
    /// While groups wait in both lines, a background start follows at most
    /// this many conversation starts (at least 1): the aging that bounds a
    /// background group's wait.
    pub aging: u32,
    /// At most this many background runs live at once (`None`: as many as
    /// slots; at least 1).
    pub max_running: Option<usize>,
    /// How long after a group's last conversation run exits a task with
    /// `skip_if_active` is still skipped (`None`: only while the
    /// conversation is live or pending). The core remembers each exit this
    /// long: memory bounded by the exits within the window.
    pub skip_window: Option<Duration>,
}

impl Default for Background {
    /// Aging 4, no cap on background runs, no skip window.
    fn default() -> Self {
        Background {
            aging: 4,
            max_running: None,
            skip_window: None,
        }
    }
}

impl Background {
    /// See [`Background::aging`].
    pub fn with_aging(mut self, aging: u32) -> Self {
        self.aging = aging;
        self
    }
    /// See [`Background::max_running`].
    pub fn with_max_running(mut self, max_running: Option<usize>) -> Self {
        self.max_running = max_running;
        self
    }
    /// See [`Background::skip_window`].
    pub fn with_skip_window(mut self, skip_window: Option<Duration>) -> Self {
        self.skip_window = skip_window;
        self
    }

    /// `aging` and `max_running` at least 1, a skip window more than zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.aging == 0 {
            return Err(ConfigError::InvalidBackground("aging must be at least 1"));
        }
        if self.max_running == Some(0) {
            return Err(ConfigError::InvalidBackground(
                "max_running must be at least 1",
            ));
        }
        if self.skip_window.is_some_and(|w| w.is_zero()) {
            return Err(ConfigError::InvalidBackground(
                "skip_window must be more than zero",
            ));
        }
        Ok(())
    }
}
