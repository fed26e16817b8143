//! `cetx block`: post, accept and withdraw block offers (大宗协议) as a
//! broker, printing the reports that answer them (docs/PROTOCOL.md,
//! "Block trades").

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use cetx_gateway::client::Client;
use cetx_gateway::protocol::{ServerFrame, ServerMessage, Side};
use rust_decimal::Decimal;
use tokio::time::Instant;

use crate::secret;

/// `cetx block`'s arguments.
#[derive(Debug, clap::Args)]
pub struct BlockArgs {
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
    #[command(subcommand)]
    action: BlockAction,
}

#[derive(Debug, clap::Subcommand)]
enum BlockAction {
    /// Post a block offer for an account: at least the block minimum
    /// (100,000 t by default), inside the block band, in block hours. It
    /// stays open after this command ends, until it is taken, withdrawn
    /// or the day ends.
    Post {
        /// The poster's account.
        #[arg(long)]
        account: u32,
        /// The instrument, e.g. CEA2025.
        #[arg(long)]
        symbol: String,
        /// Buy or sell.
        #[arg(long)]
        side: crate::SideArg,
        /// Price in CNY, e.g. 90.00.
        #[arg(long, value_parser = cetx_engine::parse_cny)]
        price: Decimal,
        /// Tonnes.
        #[arg(long)]
        qty: u64,
        /// Direct the offer at this account only (its broker is told the
        /// offer's id); open to all without it.
        #[arg(long)]
        counterparty: Option<u32>,
        /// Seconds to stay connected after the post, printing deals struck
        /// from the offer (up to 86,400).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(..=86_400))]
        wait: u64,
    },
    /// Accept an open block offer, whole or in part, for an account.
    Accept {
        /// The accepting account.
        #[arg(long)]
        account: u32,
        /// The offer's id (printed by `post`, or in the counterparty's
        /// `BlockPosted` report).
        #[arg(long)]
        block: u64,
        /// Tonnes to take.
        #[arg(long)]
        qty: u64,
    },
    /// Withdraw an open block offer the account posted.
    Cancel {
        /// The poster's account.
        #[arg(long)]
        account: u32,
        /// The offer's id.
        #[arg(long)]
        block: u64,
    },
}

/// Runs one block action.
pub async fn run(args: BlockArgs) -> Result<()> {
    let Some(broker) = args.broker else {
        bail!("--broker is required");
    };
    let timeout = Duration::from_secs(args.timeout);
    let secret = secret::resolve(
        secret::SecretArgs {
            inline: None,
            file: args.secret_file.clone(),
        },
        broker,
    )?;
    let mut client = crate::log_in_for_what_comes(&args.addr, broker, &secret, timeout).await?;
    let request_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let mut wait = Duration::ZERO;
    // A withdrawal is reported by the offer's `BlockCancelled`, which
    // carries the post's id, not the cancel's.
    let mut withdrawn = None;
    match args.action {
        BlockAction::Post {
            account,
            symbol,
            side,
            price,
            qty,
            counterparty,
            wait: seconds,
        } => {
            let side = match side {
                crate::SideArg::Buy => Side::Buy,
                crate::SideArg::Sell => Side::Sell,
            };
            let price_ticks = crate::price_to_ticks(price)?;
            client
                .post_block(
                    request_id,
                    account,
                    &symbol,
                    side,
                    price_ticks,
                    qty,
                    counterparty.unwrap_or(0),
                )
                .await?;
            wait = Duration::from_secs(seconds);
        }
        BlockAction::Accept {
            account,
            block,
            qty,
        } => client.accept_block(request_id, account, block, qty).await?,
        BlockAction::Cancel { account, block } => {
            client.cancel_block(request_id, account, block).await?;
            withdrawn = Some(block);
        }
    }
    let ours = |frame: &ServerFrame| match frame.message {
        ServerMessage::BlockCancelled {
            block_id,
            cause: WITHDRAWN,
            ..
        } if Some(block_id) == withdrawn => true,
        _ => request_of(frame) == Some(request_id),
    };
    answers(&mut client, ours, timeout, wait).await
}

/// `BlockCancelled.cause` of an offer its poster withdrew.
const WITHDRAWN: u8 = 0;

/// Prints the reports of this request (those `ours` picks) until it is
/// answered (and, for a post with `--wait`, the deals that follow within
/// the wait).
async fn answers(
    client: &mut Client,
    ours: impl Fn(&ServerFrame) -> bool,
    timeout: Duration,
    wait: Duration,
) -> Result<()> {
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
        if !ours(&frame) {
            continue;
        }
        println!("{}", describe(&frame));
        if matches!(frame.message, ServerMessage::BlockRejected { .. }) {
            bail!("the block request was rejected");
        }
        // The first report answers the request; a post with --wait stays
        // to print the deals struck from its offer meanwhile.
        if wait.is_zero() {
            return Ok(());
        }
        if !answered {
            answered = true;
            deadline = Instant::now() + wait;
        }
    }
    Ok(())
}

fn request_of(frame: &ServerFrame) -> Option<u64> {
    match frame.message {
        ServerMessage::BlockPosted {
            client_order_id, ..
        }
        | ServerMessage::BlockDeal {
            client_order_id, ..
        }
        | ServerMessage::BlockCancelled {
            client_order_id, ..
        }
        | ServerMessage::BlockRejected {
            client_order_id, ..
        } => Some(client_order_id),
        _ => None,
    }
}

/// A block report in words.
fn describe(frame: &ServerFrame) -> String {
    let seq = frame.seq;
    match &frame.message {
        ServerMessage::BlockPosted {
            block_id,
            symbol,
            side,
            price_ticks,
            quantity_t,
            directed,
            ..
        } => format!(
            "#{seq} block {block_id} posted: {side:?} {quantity_t} t {symbol} at {}{}",
            crate::ticks_to_cny(*price_ticks),
            if *directed { ", directed" } else { ", open to all" }
        ),
        ServerMessage::BlockDeal {
            block_id,
            deal_id,
            trade_id,
            symbol,
            side,
            price_ticks,
            quantity_t,
            remaining_t,
            status,
            ..
        } => format!(
            "#{seq} block {block_id} deal {deal_id}: {side:?} {quantity_t} t {symbol} at {}, {}; {remaining_t} t of the offer still open",
            crate::ticks_to_cny(*price_ticks),
            if *status == 0 {
                format!("traded (trade {trade_id})")
            } else {
                "waiting for the exchange's confirmation".to_owned()
            }
        ),
        ServerMessage::BlockCancelled {
            block_id,
            cancelled_t,
            cause,
            ..
        } => format!("#{seq} block {block_id} ended: {cancelled_t} t (cause {cause})"),
        ServerMessage::BlockRejected { reason, text, .. } => {
            format!("#{seq} block request rejected: {reason} {text}")
        }
        other => format!("#{seq} {other:?}"),
    }
}
