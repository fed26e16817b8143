//! A feed subscriber for Rust programs and tests: connects, subscribes,
//! and keeps a local copy of each instrument (levels within the depth,
//! the day, phase and band) from its snapshot and updates, checking every
//! message's sequence number.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cetx_engine::{AccountId, AuctionClosed, AuctionNotice, InstrumentId, Pricing};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::Framed;

use super::state::{BlockQuote, OrderLevel, Update, View};
use crate::codec::{DecodeError, EncodeError, FeedClientCodec};
use crate::protocol::feed::{FeedMessage, FeedRequest, MAX_FEED_FRAME};
use crate::protocol::{Side, Symbol, HEARTBEAT_INTERVAL};

/// Why the feed could not be followed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Connecting or reading failed.
    #[error("feed connection: {0}")]
    Io(#[from] io::Error),
    /// A request could not be written.
    #[error("feed request: {0}")]
    Encode(#[from] EncodeError),
    /// A frame could not be decoded.
    #[error("feed frame: {0}")]
    Decode(#[from] DecodeError),
    /// The server closed the connection.
    #[error("the feed server closed the connection")]
    Closed,
    /// The server refused a subscription or said why it closes.
    #[error("the feed server refused: {reason} {text}")]
    Rejected {
        /// The reason code.
        reason: u16,
        /// Its text.
        text: String,
    },
    /// A message about an instrument not subscribed, or before its
    /// snapshot.
    #[error("a message about instrument {0}, which has no snapshot")]
    Unknown(u16),
}

/// One instrument as the feed has shown it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// The state shown (an auction's `seller`, which the feed does not
    /// publish, is account 0 here).
    pub view: View,
    /// The last sequence number.
    pub seq: u64,
    /// Messages the server left out so far (gaps in `seq`).
    pub gaps: u64,
    /// The order view shown (with `SubscribeOrders`): bids, then asks, by
    /// price.
    pub orders: [BTreeMap<i64, OrderLevel>; 2],
}

/// A connected feed subscriber.
#[derive(Debug)]
pub struct FeedClient {
    /// Written without `writev` ([`crate::tls::Tcp`]): `cetx watch` takes
    /// `SIGPIPE`'s default action.
    conn: Framed<crate::tls::Tcp, FeedClientCodec>,
    instruments: BTreeMap<u16, Followed>,
    /// When a request last went out: the server closes a connection it
    /// has not heard from for `IDLE_TIMEOUT`, however busy the feed is.
    last_sent: Instant,
}

impl FeedClient {
    /// Connects to a feed server.
    ///
    /// # Errors
    /// [`FeedError::Io`] when it cannot connect.
    pub async fn connect(addr: SocketAddr) -> Result<Self, FeedError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut codec = FeedClientCodec::new(MAX_FEED_FRAME, MAX_FEED_FRAME);
        codec.set_logged_in(true);
        Ok(Self {
            conn: Framed::new(stream.into(), codec),
            instruments: BTreeMap::new(),
            last_sent: Instant::now(),
        })
    }

    /// Subscribes to `symbols` with `depth` levels per side (0: all).
    ///
    /// # Errors
    /// [`FeedError::Io`] when the request cannot be sent.
    pub async fn subscribe(&mut self, depth: u16, symbols: &[&str]) -> Result<(), FeedError> {
        let symbols = symbols.iter().map(|s| Symbol::from(*s)).collect();
        self.send(FeedRequest::Subscribe { depth, symbols }).await
    }

    /// Subscribes to `symbols` with `depth` levels per side (0: all) and
    /// the order view of the best 5 levels of each side.
    ///
    /// # Errors
    /// [`FeedError::Io`] when the request cannot be sent.
    pub async fn subscribe_orders(
        &mut self,
        depth: u16,
        symbols: &[&str],
    ) -> Result<(), FeedError> {
        let symbols = symbols.iter().map(|s| Symbol::from(*s)).collect();
        self.send(FeedRequest::SubscribeOrders { depth, symbols })
            .await
    }

    async fn send(&mut self, request: FeedRequest) -> Result<(), FeedError> {
        self.conn.send(request).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// The instruments as shown so far, by id.
    #[must_use]
    pub const fn instruments(&self) -> &BTreeMap<u16, Followed> {
        &self.instruments
    }

    /// The instrument with this symbol, as shown so far.
    #[must_use]
    pub fn instrument(&self, symbol: &str) -> Option<&Followed> {
        self.instruments.values().find(|f| f.view.symbol == symbol)
    }

    /// Reads the next message and applies it to the local copy; sends a
    /// heartbeat whenever nothing was sent for a heartbeat interval, since
    /// the server must hear from a subscriber however busy the feed is.
    ///
    /// Cancel-safe: dropped before it returns (in a `select!` or a
    /// timeout), it loses no message, and at worst a heartbeat goes twice.
    ///
    /// # Errors
    /// A [`FeedError`]: the connection, a refusal, a message the copy
    /// cannot take.
    pub async fn next(&mut self) -> Result<FeedMessage, FeedError> {
        loop {
            let heartbeat_at = self.last_sent + HEARTBEAT_INTERVAL;
            if Instant::now() >= heartbeat_at {
                self.send(FeedRequest::Heartbeat).await?;
                continue;
            }
            match tokio::time::timeout_at(heartbeat_at, self.conn.next()).await {
                Err(_) => {}
                Ok(None) => return Err(FeedError::Closed),
                Ok(Some(message)) => {
                    let message = message?;
                    self.apply(&message)?;
                    return Ok(message);
                }
            }
        }
    }

    /// Reads messages until none comes for `quiet`.
    ///
    /// # Errors
    /// As [`Self::next`].
    pub async fn settle(&mut self, quiet: Duration) -> Result<(), FeedError> {
        while let Ok(message) = tokio::time::timeout(quiet, self.next()).await {
            message?;
        }
        Ok(())
    }

    fn apply(&mut self, message: &FeedMessage) -> Result<(), FeedError> {
        if let FeedMessage::Rejected { reason, text } = message {
            return Err(FeedError::Rejected {
                reason: *reason,
                text: text.clone(),
            });
        }
        let Some((id, seq)) = message.instrument_seq() else {
            return Ok(());
        };
        if let FeedMessage::Snapshot {
            symbol,
            phase,
            reference_ticks,
            floor_ticks,
            ceiling_ticks,
            step_ticks,
            day,
            ..
        } = message
        {
            let view = View {
                symbol: symbol.to_string(),
                step_ticks: *step_ticks,
                phase: (*phase).into(),
                reference_ticks: *reference_ticks,
                floor_ticks: *floor_ticks,
                ceiling_ticks: *ceiling_ticks,
                day: *day,
                ..View::default()
            };
            let gaps = self.instruments.get(&id).map_or(0, |f| f.gaps);
            let orders = [BTreeMap::new(), BTreeMap::new()];
            self.instruments.insert(
                id,
                Followed {
                    view,
                    seq,
                    gaps,
                    orders,
                },
            );
            return Ok(());
        }
        let followed = self
            .instruments
            .get_mut(&id)
            .ok_or(FeedError::Unknown(id))?;
        followed.gaps += seq.saturating_sub(followed.seq + 1);
        followed.seq = seq;
        if let FeedMessage::Orders {
            side,
            price_ticks,
            order_count,
            orders,
            ..
        } = message
        {
            let levels = &mut followed.orders[usize::from(*side == Side::Sell)];
            if *order_count == 0 {
                levels.remove(price_ticks);
            } else {
                let level = OrderLevel {
                    order_count: *order_count,
                    orders: orders.as_slice().into(),
                };
                levels.insert(*price_ticks, level);
            }
        }
        if let Some(update) = update_of(message) {
            followed.view.update(&update);
        }
        Ok(())
    }
}

/// The change a message makes to a copy of the instrument, in the
/// publisher's terms (so that both apply it the same way).
fn update_of(message: &FeedMessage) -> Option<Update> {
    Some(match *message {
        FeedMessage::Level {
            side,
            price_ticks,
            quantity_t,
            orders,
            ..
        } => Update::Level {
            side: side.into(),
            price_ticks,
            quantity_t,
            orders,
        },
        FeedMessage::Statistics { day, .. } => Update::Statistics(day),
        FeedMessage::Phase { phase, .. } => Update::Phase(phase.into()),
        FeedMessage::Band {
            reference_ticks,
            floor_ticks,
            ceiling_ticks,
            ..
        } => Update::Band {
            reference_ticks,
            floor_ticks,
            ceiling_ticks,
        },
        FeedMessage::EndOfDay {
            trading_day,
            close_ticks,
            day,
            next_floor_ticks,
            next_ceiling_ticks,
            ..
        } => Update::EndOfDay {
            trading_day,
            close_ticks,
            day,
            next_floor_ticks,
            next_ceiling_ticks,
        },
        FeedMessage::BlockOffer {
            block_id,
            side,
            price_ticks,
            quantity_t,
            ..
        } => Update::BlockOffer {
            block_id,
            offer: BlockQuote {
                side: side.into(),
                price_ticks,
                quantity_t,
            },
        },
        // The feed does not publish an auction's seller: a subscriber's
        // view has account 0 there.
        FeedMessage::AuctionAnnounced {
            instrument,
            auction_id,
            quantity_t,
            floor_ticks,
            ceiling_ticks,
            start_ns,
            end_ns,
            pricing,
            ..
        } => Update::AuctionAnnounced(AuctionNotice {
            auction_id,
            instrument: InstrumentId(instrument),
            seller: AccountId(0),
            quantity_t,
            floor_ticks,
            ceiling_ticks,
            start_ns,
            end_ns,
            pricing: pricing_of(pricing)?,
        }),
        FeedMessage::AuctionResult {
            instrument,
            auction_id,
            pricing,
            clearing_ticks,
            sold_t,
            unsold_t,
            turnover_fen,
            ..
        } => Update::AuctionResult(AuctionClosed {
            auction_id,
            instrument: InstrumentId(instrument),
            seller: AccountId(0),
            pricing: pricing_of(pricing)?,
            clearing_ticks,
            sold_t,
            unsold_t,
            turnover_fen,
        }),
        FeedMessage::Snapshot { .. }
        | FeedMessage::Orders { .. }
        | FeedMessage::Trade { .. }
        | FeedMessage::Rejected { .. }
        | FeedMessage::Heartbeat
        | FeedMessage::Reserved10
        | FeedMessage::Reserved11 => return None,
    })
}

/// An auction's pricing as the feed numbers it (MARKET_DATA.md); `None`
/// for a number this build does not know.
const fn pricing_of(pricing: u8) -> Option<Pricing> {
    match pricing {
        0 => Some(Pricing::Uniform),
        1 => Some(Pricing::PayAsBid),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::FeedServerCodec;
    use crate::protocol::IDLE_TIMEOUT;
    use tokio::net::TcpListener;

    /// The server closes a subscriber it has not heard from for
    /// `IDLE_TIMEOUT`, so the client must speak even while the feed talks
    /// to it all the time (here a message every second, of paused time).
    #[tokio::test(start_paused = true)]
    async fn a_busy_feed_still_hears_heartbeats() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut codec = FeedServerCodec::new(MAX_FEED_FRAME, MAX_FEED_FRAME);
            codec.set_logged_in(true);
            let mut conn = Framed::new(stream, codec);
            let subscribed = conn.next().await.unwrap().unwrap();
            assert!(matches!(subscribed, FeedRequest::Subscribe { .. }));
            let start = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while start.elapsed() < IDLE_TIMEOUT {
                tokio::select! {
                    request = conn.next() => {
                        assert_eq!(request.unwrap().unwrap(), FeedRequest::Heartbeat);
                        return Some(start.elapsed());
                    }
                    _ = tick.tick() => conn.send(FeedMessage::Heartbeat).await.unwrap(),
                }
            }
            None
        });
        let mut client = FeedClient::connect(addr).await.unwrap();
        client.subscribe(5, &["CEA2025"]).await.unwrap();
        let reader = tokio::spawn(async move {
            loop {
                if client.next().await.is_err() {
                    return;
                }
            }
        });
        let heard = server.await.unwrap();
        reader.abort();
        let heard = heard.expect("no heartbeat from the client within IDLE_TIMEOUT");
        assert!(
            heard <= HEARTBEAT_INTERVAL + Duration::from_secs(1),
            "{heard:?}"
        );
    }
}
