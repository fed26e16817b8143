//! `cetx block`: post, accept and withdraw block offers (大宗协议) as a
//! broker, printing the reports that answer them (docs/PROTOCOL.md,
//! "Block trades").

use std::time::Duration;

use anyhow::Result;
use cetx_gateway::protocol::{ServerFrame, ServerMessage, Side};
use rust_decimal::Decimal;

use crate::requests::{self, Answer, BrokerArgs};

/// `cetx block`'s arguments.
#[derive(Debug, clap::Args)]
pub struct BlockArgs {
    #[command(flatten)]
    broker: BrokerArgs,
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
        #[arg(long, value_parser = crate::price_arg, allow_negative_numbers = true)]
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
    let (mut client, timeout) = args.broker.log_in().await?;
    let request_id = requests::id_from_clock();
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
    let answer = Answer {
        ours: |frame: &ServerFrame| match frame.message {
            ServerMessage::BlockCancelled {
                block_id,
                cause: WITHDRAWN,
                ..
            } if Some(block_id) == withdrawn => true,
            _ => request_of(frame) == Some(request_id),
        },
        describe,
        refused: |message: &ServerMessage| matches!(message, ServerMessage::BlockRejected { .. }),
        last: |_: &ServerMessage| false,
    };
    // The first report answers the request; a post with --wait stays to
    // print the deals struck from its offer meanwhile.
    requests::answers(&mut client, answer, timeout, wait).await
}

/// `BlockCancelled.cause` of an offer its poster withdrew.
const WITHDRAWN: u8 = 0;

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
        } => format!(
            "#{seq} block {block_id} ended: {cancelled_t} t ({})",
            match *cause {
                WITHDRAWN => "withdrawn by its poster",
                5 => "the trading day ended",
                20 => "its account or broker was suspended",
                22 => "the exchange refused the deal",
                _ => "other cause",
            }
        ),
        ServerMessage::BlockRejected { reason, text, .. } => {
            format!("#{seq} block request rejected: {reason} {text}")
        }
        other => format!("#{seq} {other:?}"),
    }
}
