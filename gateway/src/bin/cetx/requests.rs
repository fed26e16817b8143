//! `cetx cancel`, `cetx amend` and `cetx bid`: a broker's requests about
//! an order or an auction bid, each printing the reports that answer it
//! (docs/PROTOCOL.md); and what they share with `cetx block`: the broker's
//! connection arguments and the wait for the answer.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use cetx_gateway::client::Client;
use cetx_gateway::protocol::{ClientMessage, ServerFrame, ServerMessage};
use rust_decimal::Decimal;
use tokio::time::Instant;

use crate::secret;

/// How long an amend waits, after its answer, for the fills it may cause
/// (they come in the same turn).
const AMEND_FILLS_WAIT: Duration = Duration::from_millis(500);

/// The broker connection of `cetx block`, `cetx cancel`, `cetx amend` and
/// `cetx bid` (global: given before or after the subcommand).
#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// The server.
    #[arg(long, default_value = "127.0.0.1:7878", global = true)]
    addr: String,
    /// The broker's id.
    #[arg(long, global = true)]
    broker: Option<u32>,
    /// A file whose first line is the broker's secret (else `CETX_SECRET`,
    /// else a prompt).
    #[arg(long, value_name = "FILE", global = true)]
    secret_file: Option<PathBuf>,
    /// Seconds to wait for the answer (1 to 86,400).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    timeout: u64,
}

impl BrokerArgs {
    /// Logs in for the reports to come (none from before); the session
    /// and the wait for an answer.
    pub async fn log_in(&self) -> Result<(Client, Duration)> {
        let Some(broker) = self.broker else {
            bail!("--broker is required");
        };
        let timeout = Duration::from_secs(self.timeout);
        let secret = secret::resolve(
            secret::SecretArgs {
                inline: None,
                file: self.secret_file.clone(),
            },
            broker,
        )?;
        let client = crate::log_in_for_what_comes(&self.addr, broker, &secret, timeout).await?;
        Ok((client, timeout))
    }
}

/// A request id from the clock, unique enough for a person typing
/// commands: microseconds.
pub fn id_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// How long the wait goes on after the report that ends it, for those
/// that come with it (they come in the same turn).
const SETTLE: Duration = Duration::from_millis(200);

/// What one request's reports are: which are its, how each reads, which
/// refuses it, and which ends the wait for more.
pub struct Answer<O, D, R, E> {
    pub ours: O,
    pub describe: D,
    pub refused: R,
    pub last: E,
}

/// Prints the reports `answer.ours` picks until the first (the answer)
/// and then, for `wait` or until `answer.last` says one is the last,
/// those that follow it; fails when none comes in `timeout` or the answer
/// is a refusal.
pub async fn answers<O, D, R, E>(
    client: &mut Client,
    answer: Answer<O, D, R, E>,
    timeout: Duration,
    wait: Duration,
) -> Result<()>
where
    O: Fn(&ServerFrame) -> bool,
    D: Fn(&ServerFrame) -> String,
    R: Fn(&ServerMessage) -> bool,
    E: Fn(&ServerMessage) -> bool,
{
    let mut deadline = Instant::now() + timeout;
    let mut answered = false;
    for _ in 0..1_000_000 {
        let left = deadline.saturating_duration_since(Instant::now());
        let report = match client.next_report(left).await {
            Err(error) if answered => return crate::session_ended(&error),
            report => report?,
        };
        let Some(frame) = report else {
            if answered {
                return Ok(());
            }
            bail!("no answer within {timeout:?}");
        };
        if !(answer.ours)(&frame) {
            continue;
        }
        println!("{}", (answer.describe)(&frame));
        if (answer.refused)(&frame.message) {
            bail!("the request was rejected");
        }
        if wait.is_zero() {
            return Ok(());
        }
        if !answered {
            answered = true;
            deadline = Instant::now() + wait;
        }
        if (answer.last)(&frame.message) {
            deadline = deadline.min(Instant::now() + SETTLE);
        }
    }
    Ok(())
}

/// `cetx cancel`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The broker's id of the order, today's (`cetx order` prints it:
    /// `sending order N`).
    #[arg(long)]
    client_order_id: u64,
}

/// `cetx amend`'s arguments.
#[derive(Debug, clap::Args)]
pub struct AmendArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The broker's id of the resting order, today's.
    #[arg(long)]
    client_order_id: u64,
    /// The new limit price in CNY, e.g. 90.10.
    #[arg(long, value_parser = crate::price_arg, allow_negative_numbers = true)]
    price: Decimal,
    /// The new open (unfilled) quantity in tonnes.
    #[arg(long)]
    qty: u64,
}

/// Cancels a resting order and prints the answer.
pub async fn cancel(args: CancelArgs) -> Result<()> {
    let id = args.client_order_id;
    order_request(
        &args.broker,
        ClientMessage::Cancel {
            client_order_id: id,
        },
        id,
        Duration::ZERO,
    )
    .await
}

/// Amends a resting order and prints the answer, the fills it causes, and
/// what the disconnect then does to it.
pub async fn amend(args: AmendArgs) -> Result<()> {
    let id = args.client_order_id;
    let message = ClientMessage::Amend {
        client_order_id: id,
        price_ticks: crate::price_to_ticks(args.price)?,
        quantity_t: args.qty,
    };
    order_request(&args.broker, message, id, AMEND_FILLS_WAIT).await?;
    println!("{}", crate::disconnect_notice(id));
    Ok(())
}

/// Sends `message` about the order `client_order_id` and prints its
/// reports.
async fn order_request(
    broker: &BrokerArgs,
    message: ClientMessage,
    client_order_id: u64,
    wait: Duration,
) -> Result<()> {
    let (mut client, timeout) = broker.log_in().await?;
    client.send(message).await?;
    let answer = Answer {
        ours: |frame: &ServerFrame| crate::report_client_order_id(frame) == Some(client_order_id),
        describe: crate::describe,
        refused: |message: &ServerMessage| matches!(message, ServerMessage::OrderRejected { .. }),
        last: |_: &ServerMessage| false,
    };
    answers(&mut client, answer, timeout, wait).await
}

/// `cetx bid`'s arguments.
#[derive(Debug, clap::Args)]
pub struct BidArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(subcommand)]
    action: BidAction,
}

#[derive(Debug, clap::Subcommand)]
enum BidAction {
    /// Bid in a one-way auction (单向竞价) for an account, while its window
    /// is open: cash for the whole bid is reserved at its price.
    Place {
        /// The bidding account.
        #[arg(long)]
        account: u32,
        /// The auction's id, as announced (`cetx admin announce-auction`,
        /// or the feed's `AuctionAnnounced`).
        #[arg(long)]
        auction: u64,
        /// Price in CNY, e.g. 92.00: within the auction's floor and
        /// ceiling.
        #[arg(long, value_parser = crate::price_arg, allow_negative_numbers = true)]
        price: Decimal,
        /// Tonnes.
        #[arg(long)]
        qty: u64,
        /// The broker's id for the bid, to amend or cancel it later;
        /// default: from the clock (printed).
        #[arg(long)]
        client_order_id: Option<u64>,
        /// Seconds to stay connected after the bid, printing its outcome
        /// if the auction closes meanwhile (up to 86,400). The outcome
        /// also waits in the broker's reports for its next login.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(..=86_400))]
        wait: u64,
    },
    /// Change an open bid's price and quantity while its auction's window
    /// is open.
    Amend {
        /// The broker's id of the bid.
        #[arg(long)]
        client_order_id: u64,
        /// The new price in CNY.
        #[arg(long, value_parser = crate::price_arg, allow_negative_numbers = true)]
        price: Decimal,
        /// The new quantity in tonnes.
        #[arg(long)]
        qty: u64,
    },
    /// Withdraw an open bid while its auction's window is open.
    Cancel {
        /// The broker's id of the bid.
        #[arg(long)]
        client_order_id: u64,
    },
}

/// Runs one bid action.
pub async fn bid(args: BidArgs) -> Result<()> {
    let (mut client, timeout) = args.broker.log_in().await?;
    let (id, message, wait) = match args.action {
        BidAction::Place {
            account,
            auction,
            price,
            qty,
            client_order_id,
            wait,
        } => {
            let id = client_order_id.unwrap_or_else(id_from_clock);
            println!("sending bid {id}");
            let message = ClientMessage::Bid {
                client_order_id: id,
                auction_id: auction,
                account,
                price_ticks: crate::price_to_ticks(price)?,
                quantity_t: qty,
            };
            (id, message, Duration::from_secs(wait))
        }
        BidAction::Amend {
            client_order_id,
            price,
            qty,
        } => {
            let message = ClientMessage::AmendBid {
                client_order_id,
                price_ticks: crate::price_to_ticks(price)?,
                quantity_t: qty,
            };
            (client_order_id, message, Duration::ZERO)
        }
        BidAction::Cancel { client_order_id } => (
            client_order_id,
            ClientMessage::CancelBid { client_order_id },
            Duration::ZERO,
        ),
    };
    client.send(message).await?;
    let answer = Answer {
        ours: |frame: &ServerFrame| bid_of(&frame.message) == Some(id),
        describe: describe_bid,
        refused: |message: &ServerMessage| matches!(message, ServerMessage::BidRejected { .. }),
        // The close tells a bid's outcome (and a `BidCancelled` of its
        // unfilled part with it).
        last: |message: &ServerMessage| matches!(message, ServerMessage::AuctionResult { .. }),
    };
    answers(&mut client, answer, timeout, wait).await
}

/// The broker's id of the bid a report is about.
const fn bid_of(message: &ServerMessage) -> Option<u64> {
    match *message {
        ServerMessage::BidAccepted {
            client_order_id, ..
        }
        | ServerMessage::BidRejected {
            client_order_id, ..
        }
        | ServerMessage::BidCancelled {
            client_order_id, ..
        } => Some(client_order_id),
        // The seller's result names no bid (0).
        ServerMessage::AuctionResult {
            client_order_id, ..
        } if client_order_id != 0 => Some(client_order_id),
        _ => None,
    }
}

/// A bid's report in words.
fn describe_bid(frame: &ServerFrame) -> String {
    let seq = frame.seq;
    match &frame.message {
        ServerMessage::BidAccepted {
            auction_id,
            bid_id,
            price_ticks,
            quantity_t,
            amend,
            ..
        } => format!(
            "#{seq} bid {} in auction {auction_id} (exchange bid {bid_id}): {quantity_t} t at {}",
            match amend {
                0 => "accepted",
                1 => "amended, keeping its place",
                _ => "amended, behind those at its price",
            },
            crate::ticks_to_cny(*price_ticks)
        ),
        ServerMessage::BidRejected { reason, text, .. } => {
            format!("#{seq} bid request rejected: {reason} {text}")
        }
        ServerMessage::BidCancelled {
            auction_id,
            cancelled_t,
            cause,
            ..
        } => format!(
            "#{seq} bid in auction {auction_id} ended: {cancelled_t} t ({})",
            if *cause == 23 {
                "not filled at the auction's close"
            } else {
                "withdrawn"
            }
        ),
        ServerMessage::AuctionResult {
            auction_id,
            symbol,
            clearing_ticks,
            sold_t,
            unsold_t,
            price_ticks,
            quantity_t,
            ..
        } => format!(
            "#{seq} auction {auction_id} ({symbol}) ended: {sold_t} t sold, {unsold_t} t unsold, clearing at {}; this bid {}",
            crate::ticks_to_cny(*clearing_ticks),
            if *quantity_t == 0 {
                "won nothing".to_owned()
            } else {
                format!("won {quantity_t} t at {}", crate::ticks_to_cny(*price_ticks))
            }
        ),
        other => format!("#{seq} {}", other.name()),
    }
}
