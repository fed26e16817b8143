//! Why the feed refuses or closes a connection, as the metrics label it
//! and the log says it.
//!
//! The feed is public: anyone may connect, send a bad frame or hold a
//! socket open, so each refusal or close the server decides is counted
//! (in [`super::MarketData`], read by the metrics page) and logged at
//! info as one line per reason per interval, like the broker port's
//! refused connections and malformed frames: a flood writes a count, not
//! a line per connection. Each event is also logged at debug with its
//! peer. A subscriber that leaves on its own is no error: a debug line,
//! no count.
//!
//! A subscriber closed for not keeping up ([`SlowReaderClose`]) is rare
//! and a vendor's to hear of, so each has an info line of its own
//! (`feed.rs`).

use std::net::SocketAddr;
use std::time::Instant;

use cetx_engine::RejectReason;

use crate::log_tally::SharedTally;
use crate::server::REFUSED_LOG_INTERVAL;

/// Why the feed closed a subscriber that does not keep up, in the order
/// of [`SLOW_READER_CLOSES`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum SlowReaderClose {
    /// A write waited past `market_data.write_timeout_ms`.
    WriteTimeout = 0,
    /// It needed a third fresh snapshot within a minute (`Rejected` 408).
    Resnapshots = 1,
}

/// Why the feed closed a slow subscriber, as the metrics name it: a write
/// past the write timeout, a third fresh snapshot within a minute.
pub const SLOW_READER_CLOSES: [&str; 2] = ["write_timeout", "resnapshots"];

/// Which limit a feed connection was refused for (`Rejected` 412), in
/// the order of [`REFUSED`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refused {
    /// All of `market_data.max_subscribers` places are held.
    MaxSubscribers = 0,
    /// Its IP address holds `market_data.max_subscribers_per_address`
    /// places.
    MaxSubscribersPerAddress = 1,
}

/// Why feed connections are refused 412, as the metrics name it: the
/// config key of the limit that was full.
pub const REFUSED: [&str; 2] = ["max_subscribers", "max_subscribers_per_address"];

impl Refused {
    /// The reason in words, for the log.
    const fn words(self) -> &'static str {
        match self {
            Self::MaxSubscribers => "every one of max_subscribers places is held (412)",
            Self::MaxSubscribersPerAddress => {
                "its address holds max_subscribers_per_address places (412)"
            }
        }
    }
}

/// Why the feed closed a subscriber for what it sent or did not send, in
/// the order of [`CLOSED`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Closed {
    /// A frame that is no feed request (`Rejected` 414).
    MalformedFrame = 0,
    /// A frame longer than the feed's maximum (`Rejected` 415).
    FrameTooLong = 1,
    /// Nothing heard from it for the idle timeout (no message).
    IdleTimeout = 2,
    /// It followed no instrument within `market_data.subscribe_timeout_ms`
    /// of connecting (no message).
    SubscribeTimeout = 3,
}

/// Why the feed closes a subscriber for what it sent or did not send, as
/// the metrics name it.
pub const CLOSED: [&str; 4] = [
    "malformed_frame",
    "frame_too_long",
    "idle_timeout",
    "subscribe_timeout",
];

impl Closed {
    /// What the subscriber is told before the close, if anything.
    pub(crate) const fn told(self) -> Option<RejectReason> {
        match self {
            Self::MalformedFrame => Some(RejectReason::MalformedFrame),
            Self::FrameTooLong => Some(RejectReason::FrameTooLarge),
            Self::IdleTimeout | Self::SubscribeTimeout => None,
        }
    }

    /// What a subscriber that broke this rule did, for the log: `detail`
    /// (the frame's fault, or the timeout's words) after the rule.
    pub(crate) fn words(self, detail: &str) -> String {
        match self {
            Self::MalformedFrame => format!("a malformed frame (414): {detail}"),
            Self::FrameTooLong => format!("a frame too long (415): {detail}"),
            Self::IdleTimeout | Self::SubscribeTimeout => detail.to_owned(),
        }
    }
}

/// The feed's lines about refused and closed connections: one tally per
/// reason, so that a flood of one kind never hides another.
#[derive(Debug)]
pub(crate) struct CloseLog {
    refused: [SharedTally; 2],
    closed: [SharedTally; 4],
}

impl CloseLog {
    /// At most a line per reason every [`REFUSED_LOG_INTERVAL`], as the
    /// broker port's.
    pub(crate) fn new() -> Self {
        Self {
            refused: std::array::from_fn(|_| SharedTally::new(REFUSED_LOG_INTERVAL)),
            closed: std::array::from_fn(|_| SharedTally::new(REFUSED_LOG_INTERVAL)),
        }
    }

    /// Logs a connection refused for `why` (its line when one is due).
    pub(crate) fn refused(&self, peer: SocketAddr, why: Refused) {
        tracing::debug!(%peer, why = REFUSED[why as usize], "refused a feed connection");
        let event = Some((peer.to_string(), why.words().to_owned()));
        log_refused(&self.refused[why as usize], REFUSED[why as usize], event);
    }

    /// Logs a subscriber closed for `why` (`words`: what it did, for a
    /// person), its line when one is due.
    pub(crate) fn closed(&self, peer: SocketAddr, why: Closed, words: String) {
        tracing::debug!(%peer, why = CLOSED[why as usize], %words, "closed a feed connection");
        let event = Some((peer.to_string(), words));
        log_closed(&self.closed[why as usize], CLOSED[why as usize], event);
    }

    /// The timer's look at what the intervals held back, so that a
    /// burst's last events are logged even if no other comes.
    pub(crate) fn flush(&self) {
        for (tally, why) in self.refused.iter().zip(REFUSED) {
            log_refused(tally, why, None);
        }
        for (tally, why) in self.closed.iter().zip(CLOSED) {
            log_closed(tally, why, None);
        }
    }
}

fn log_refused(tally: &SharedTally, why: &str, event: Option<(String, String)>) {
    if let Some(line) = tally.due(event, Instant::now()) {
        tracing::info!(
            why,
            count = line.count,
            last = line.last,
            reasons = line.reasons,
            "refused feed connections over a subscriber limit (count: since the last such line)"
        );
    }
}

fn log_closed(tally: &SharedTally, why: &str, event: Option<(String, String)>) {
    if let Some(line) = tally.due(event, Instant::now()) {
        tracing::info!(
            why,
            count = line.count,
            last = line.last,
            reasons = line.reasons,
            "closed feed connections on a bad frame or a timeout (count: since the last such line)"
        );
    }
}
