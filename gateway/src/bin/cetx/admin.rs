//! `cetx admin`: the operators' channel from the command line
//! (`docs/ADMIN.md`). One action per run, or `batch FILE` for a file of
//! them (a registry's or bank's daily file); each is answered with what
//! the engine decided.
//!
//! Exit codes: 0 every action applied (or, for a transfer, applied
//! before: a re-sent file changes nothing and is not an error); 1 any
//! action refused, or the channel failed; 2 bad arguments.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use cetx_engine::{Direction, ParticipantType, Pricing, RejectReason, Status};
use cetx_gateway::admin::{AdminClient, AdminClientError};
use cetx_gateway::protocol::admin::{AdminAction, AdminReply, AdminRequest};
use cetx_gateway::protocol::Secret;
use cetx_gateway::tls::{self, ClientTls};
use clap::{Subcommand, ValueEnum};
use rust_decimal::Decimal;

mod listing;

/// Where the operator connects and who it is.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// The server's operators' channel (`admin.listen`).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:7880",
        value_parser = cetx_gateway::config::parse_addr
    )]
    connect: SocketAddr,
    /// The operator's id (`[[operators]]`).
    #[arg(long)]
    operator: u32,
    /// A file holding the operator's secret (its first line). Without it,
    /// the secret is read from the environment variable
    /// `CETX_ADMIN_SECRET`; it is never taken on the command line.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Connect with TLS (`[admin.tls]`), trusting the CA certificates in
    /// this PEM file only.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// The name the server's certificate must be valid for (default: the
    /// `--connect` address's IP).
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    tls_server_name: Option<String>,
    /// The operator's client certificate (PEM), for an operator with a
    /// `tls_name` (mutual TLS); with `--tls-key`.
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Open an empty account for a broker of the config or one added.
    OpenAccount {
        #[arg(long)]
        account: u32,
        #[arg(long)]
        broker: u32,
        #[arg(long, value_enum)]
        participant: Participant,
    },
    /// Pay cash into an account (from the settlement bank), once per
    /// reference id.
    Deposit(Cash),
    /// Pay unreserved cash out of an account, once per reference id.
    Withdraw(Cash),
    /// Credit allowances from the registry, once per reference id.
    TransferIn(Allowances),
    /// Debit free allowances to the registry (e.g. for compliance
    /// surrender), once per reference id; refused if open sell orders
    /// reserve them.
    TransferOut(Allowances),
    /// Halt an instrument until `resume`.
    Halt {
        #[arg(long)]
        symbol: String,
    },
    /// Resume a halted instrument in the market's phase of the moment (the
    /// calendar's; open on a server started with `--open-market-now`,
    /// until the calendar's next step).
    Resume {
        #[arg(long)]
        symbol: String,
    },
    /// Set an instrument's reference price (while it is closed with an
    /// empty book).
    SetReference {
        #[arg(long)]
        symbol: String,
        /// CNY, e.g. `90.00`.
        #[arg(long, value_parser = cetx_engine::parse_cny, allow_negative_numbers = true)]
        price: Decimal,
    },
    /// List a new instrument (a new CEA vintage, a CCER) on the running
    /// market: it joins the market in its phase of the moment, so in a
    /// session it trades at once. Only the kind, a CEA's vintage and the reference price are
    /// needed; the rest has the CEA rules' defaults.
    ListInstrument(listing::ListArgs),
    /// Replace a listed instrument's rules (tick, lot, sizes, band, book
    /// limits, eligibility, holding rules) with those of its entry in a
    /// config file, on the running market: only while it is not trading
    /// and its book is empty (halt it first); today's reference price
    /// stays.
    ReviseInstrument {
        /// The config file whose `[[instruments]]` entry has the new rules.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The instrument.
        #[arg(long)]
        symbol: String,
    },
    /// Onboard a broker: it may log in at once. Its secret is read from
    /// `--broker-secret-file` (first line) or `CETX_BROKER_SECRET`, never
    /// from the command line; the server journals only a salted hash.
    AddBroker {
        #[arg(long)]
        broker: u32,
        /// A name for logs and reports (1 to 64 bytes).
        #[arg(long)]
        name: String,
        /// A file holding the new broker's secret (its first line).
        #[arg(long, value_name = "FILE")]
        broker_secret_file: Option<PathBuf>,
    },
    /// Suspend a broker: its logins are refused (420), its accounts' new
    /// orders refused (113) and their resting orders cancelled.
    SuspendBroker(BrokerArg),
    /// Lift a broker's suspension.
    ReinstateBroker(BrokerArg),
    /// Close a broker for good (each of its accounts must be closed).
    CloseBroker(BrokerArg),
    /// Suspend an account: new orders refused (114), resting ones
    /// cancelled; transfers still go through.
    SuspendAccount(AccountArg),
    /// Lift an account's suspension.
    ReinstateAccount(AccountArg),
    /// Close an account for good (no cash, no allowances, no open order).
    CloseAccount(AccountArg),
    /// Confirm a block deal that waits for the exchange's confirmation
    /// (CCER): it settles.
    ConfirmBlock(DealArg),
    /// Refuse a block deal that waits for the exchange's confirmation:
    /// both sides get their reservations back.
    RefuseBlock(DealArg),
    /// Announce a one-way auction: the seller's quantity is locked at once,
    /// bids are taken from `--start` until `--end`, and the server closes
    /// it when the window ends.
    AnnounceAuction {
        /// Its id: above every auction id announced before.
        #[arg(long)]
        auction_id: u64,
        #[arg(long)]
        symbol: String,
        /// The selling account.
        #[arg(long)]
        seller: u32,
        /// Tonnes offered.
        #[arg(long)]
        qty: u64,
        /// Lowest bid price, CNY.
        #[arg(long, value_parser = cetx_engine::parse_cny, allow_negative_numbers = true)]
        floor: Decimal,
        /// Highest bid price, CNY.
        #[arg(long, value_parser = cetx_engine::parse_cny, allow_negative_numbers = true)]
        ceiling: Decimal,
        /// The window's start, RFC 3339 (e.g. `2026-12-02T13:00:00+08:00`).
        #[arg(long)]
        start: String,
        /// The window's end (excluded), RFC 3339.
        #[arg(long)]
        end: String,
        #[arg(long, value_enum, default_value = "uniform")]
        pricing: PricingArg,
    },
    /// Close an auction whose window has ended. The server closes each
    /// itself at its end, before it takes an operator's action, so this
    /// is answered 144 then (148 before the end).
    CloseAuction {
        #[arg(long)]
        auction_id: u64,
    },
    /// Withdraw an open auction before its window ends: it sells
    /// nothing, and its bids and the seller's allowances are released.
    WithdrawAuction {
        #[arg(long)]
        auction_id: u64,
    },
    /// Run every action of a CSV file, one per row, with the header
    /// `action,account,symbol,quantity,amount,reference` (see
    /// docs/ADMIN.md), answering each row.
    Batch {
        /// The file.
        file: PathBuf,
    },
}

/// The broker a standing change names.
#[derive(Debug, clap::Args)]
struct BrokerArg {
    #[arg(long)]
    broker: u32,
}

/// The block deal a confirmation or refusal names.
#[derive(Debug, clap::Args)]
struct DealArg {
    /// The deal's id (`BlockDeal.deal_id` in the brokers' reports).
    #[arg(long)]
    deal: u64,
}

/// The account a standing change names.
#[derive(Debug, clap::Args)]
struct AccountArg {
    #[arg(long)]
    account: u32,
}

/// A cash transfer's arguments.
#[derive(Debug, clap::Args)]
struct Cash {
    #[arg(long)]
    account: u32,
    /// CNY, e.g. `5000000.00`.
    #[arg(long, value_parser = cetx_engine::parse_cny, allow_negative_numbers = true)]
    amount: Decimal,
    /// The bank's reference id.
    #[arg(long = "ref")]
    reference: String,
}

/// An allowance transfer's arguments.
#[derive(Debug, clap::Args)]
struct Allowances {
    #[arg(long)]
    account: u32,
    #[arg(long)]
    symbol: String,
    /// Tonnes.
    #[arg(long)]
    qty: u64,
    /// The registry's reference id.
    #[arg(long = "ref")]
    reference: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Participant {
    ComplianceEntity,
    Institution,
    Individual,
}

impl Participant {
    const fn participant_type(self) -> ParticipantType {
        match self {
            Self::ComplianceEntity => ParticipantType::ComplianceEntity,
            Self::Institution => ParticipantType::Institution,
            Self::Individual => ParticipantType::Individual,
        }
    }
}

/// Exit code of a bad argument: an action, amount, batch row or secret
/// that the command line or its files got wrong, found before anything is
/// sent (ADMIN.md, "Exit codes").
const BAD_ARGUMENTS: u8 = 2;

/// Runs `cetx admin`.
pub async fn run(args: AdminArgs) -> ExitCode {
    let (actions, secret) = match actions_and_secret(&args) {
        Ok(asked) => asked,
        Err(error) => {
            eprintln!("error: {}", crate::error_text(&error));
            return ExitCode::from(BAD_ARGUMENTS);
        }
    };
    match run_actions(&args, actions, &secret).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {}", crate::error_text(&error));
            ExitCode::FAILURE
        }
    }
}

/// The actions the arguments ask for, each with its label, and the
/// operator's secret.
fn actions_and_secret(args: &AdminArgs) -> Result<(Vec<(String, AdminAction)>, String)> {
    let (actions, file) = match &args.action {
        Action::Batch { file } => (read_batch(file)?, format!("{}: ", file.display())),
        single => (vec![(String::new(), to_wire(single)?)], String::new()),
    };
    // What the server would refuse to decode (414) is a bad argument,
    // told before anything is sent (a batch's by its file and line).
    for (label, action) in &actions {
        let request = AdminRequest::Action {
            request_id: 0,
            action: action.clone(),
        };
        request
            .validate()
            .map_err(|e| anyhow::anyhow!("{file}{label}{e}"))?;
    }
    Ok((actions, secret(args.secret_file.as_deref())?))
}

/// Runs the actions; returns whether every one was applied (or applied
/// before).
async fn run_actions(
    args: &AdminArgs,
    actions: Vec<(String, AdminAction)>,
    secret: &str,
) -> Result<bool> {
    let connected = match client_tls(args)? {
        None => AdminClient::connect(args.connect, args.operator, secret).await,
        Some(tls) => AdminClient::connect_tls(args.connect, &tls, args.operator, secret).await,
    };
    let mut client = connected.map_err(|error| refused_hint(args, error))?;
    let mut all_applied = true;
    let (labels, actions): (Vec<String>, Vec<AdminAction>) = actions.into_iter().unzip();
    client
        .act_all(actions, |i, reply| {
            let (line, applied) = describe(&reply);
            println!("{}{line}", labels[i]);
            all_applied &= applied;
        })
        .await?;
    Ok(all_applied)
}

/// A failed login in words. A 402 over TLS without a client certificate
/// says that one may be what is missing: the server does not tell which
/// part of a login was wrong, and an operator with a `tls_name` must show
/// a certificate as well as the secret.
fn refused_hint(args: &AdminArgs, error: AdminClientError) -> anyhow::Error {
    let no_certificate = args.tls_ca.is_some() && args.tls_cert.is_none();
    let bad_credentials = matches!(
        error,
        AdminClientError::Refused { reason, .. } if reason == RejectReason::BadCredentials.code()
    );
    let error = if no_certificate && bad_credentials {
        anyhow::anyhow!(
            "{error}; if the server asks this operator for a client certificate (its \
             `tls_name`), give --tls-cert and --tls-key"
        )
    } else {
        anyhow::Error::new(error)
    };
    error.context(format!("logging in to {}", args.connect))
}

/// The TLS settings of `--tls-ca` and the rest, if TLS is asked for.
fn client_tls(args: &AdminArgs) -> Result<Option<ClientTls>> {
    let Some(ca) = &args.tls_ca else {
        return Ok(None);
    };
    let ip = args.connect.ip().to_string();
    let name = args.tls_server_name.as_deref().unwrap_or(&ip);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => tls::client_with_certificate(ca, name, cert, key),
        _ => tls::client(ca, name),
    };
    tls.map(Some).context("setting up TLS")
}

/// One line for an answer, and whether it counts as applied.
fn describe(reply: &AdminReply) -> (String, bool) {
    // A refusal of the gateway's is in no entry (seq 0 on the wire).
    let entry = |seq: u64| match seq {
        0 => "not journaled".to_owned(),
        seq => format!("seq {seq}"),
    };
    match reply {
        AdminReply::Applied { seq, .. } => (format!("applied at seq {seq}"), true),
        AdminReply::Rejected {
            seq, reason, text, ..
        } if *reason == RejectReason::DuplicateReference.code() => (
            format!("already applied: {text} (code {reason}, {})", entry(*seq)),
            true,
        ),
        AdminReply::Rejected {
            seq, reason, text, ..
        } => (
            format!("rejected: {text} (code {reason}, {})", entry(*seq)),
            false,
        ),
        other => (format!("unexpected answer {other:?}"), false),
    }
}

/// The operator's secret: the first line of `file`, or `CETX_ADMIN_SECRET`.
fn secret(file: Option<&Path>) -> Result<String> {
    read_secret(file, "CETX_ADMIN_SECRET", "the operator's secret")
}

/// A secret: the first line of `file` (warned about when others may read
/// it, as `cetx order`'s), or the environment variable `var`.
fn read_secret(file: Option<&Path>, var: &str, what: &str) -> Result<String> {
    let secret = match file {
        Some(file) => crate::secret::from_file(file).with_context(|| what.to_owned())?,
        None => std::env::var(var)
            .with_context(|| format!("{what}: no file given and no {var} in the environment"))?,
    };
    if secret.is_empty() {
        bail!("{what} is empty");
    }
    Ok(secret)
}

/// The wire action of a single command-line action.
fn to_wire(action: &Action) -> Result<AdminAction> {
    let cash = |c: &Cash, direction| -> Result<AdminAction> {
        Ok(AdminAction::Transfer {
            reference: c.reference.clone(),
            account: c.account,
            symbol: None,
            direction,
            amount: fen("amount", c.amount)?,
        })
    };
    let allowances = |a: &Allowances, direction| -> Result<AdminAction> {
        if a.qty == 0 {
            bail!("a quantity of 0 t: it must be at least 1 t");
        }
        Ok(AdminAction::Transfer {
            reference: a.reference.clone(),
            account: a.account,
            symbol: Some(a.symbol.as_str().into()),
            direction,
            amount: a.qty,
        })
    };
    Ok(match action {
        Action::OpenAccount {
            account,
            broker,
            participant,
        } => AdminAction::OpenAccount {
            account: *account,
            broker: *broker,
            participant: participant.participant_type(),
        },
        Action::Deposit(c) => cash(c, Direction::In)?,
        Action::Withdraw(c) => cash(c, Direction::Out)?,
        Action::TransferIn(a) => allowances(a, Direction::In)?,
        Action::TransferOut(a) => allowances(a, Direction::Out)?,
        Action::Halt { symbol } => AdminAction::Halt {
            symbol: symbol.as_str().into(),
        },
        Action::Resume { symbol } => AdminAction::Resume {
            symbol: symbol.as_str().into(),
        },
        Action::SetReference { symbol, price } => AdminAction::SetReferencePrice {
            symbol: symbol.as_str().into(),
            price_ticks: i64::try_from(fen("price", *price)?).context("the price is too large")?,
        },
        Action::ListInstrument(args) => AdminAction::ListInstrument(Box::new(args.listing()?)),
        Action::ReviseInstrument { config, symbol } => {
            AdminAction::ReviseInstrument(Box::new(listing::from_config(config, symbol)?))
        }
        Action::AddBroker {
            broker,
            name,
            broker_secret_file,
        } => AdminAction::AddBroker {
            broker: *broker,
            name: name.clone(),
            secret: Secret::new(read_secret(
                broker_secret_file.as_deref(),
                "CETX_BROKER_SECRET",
                "the new broker's secret",
            )?),
        },
        Action::SuspendBroker(b) => broker_status(b, Status::Suspended),
        Action::ReinstateBroker(b) => broker_status(b, Status::Active),
        Action::CloseBroker(b) => broker_status(b, Status::Closed),
        Action::SuspendAccount(a) => account_status(a, Status::Suspended),
        Action::ReinstateAccount(a) => account_status(a, Status::Active),
        Action::CloseAccount(a) => account_status(a, Status::Closed),
        Action::ConfirmBlock(d) => AdminAction::ConfirmBlock { deal_id: d.deal },
        Action::RefuseBlock(d) => AdminAction::RefuseBlock { deal_id: d.deal },
        Action::AnnounceAuction {
            auction_id,
            symbol,
            seller,
            qty,
            floor,
            ceiling,
            start,
            end,
            pricing,
        } => AdminAction::AnnounceAuction {
            auction_id: *auction_id,
            symbol: symbol.as_str().into(),
            seller: *seller,
            quantity_t: *qty,
            floor_ticks: i64::try_from(fen("floor", *floor)?).context("the floor is too large")?,
            ceiling_ticks: i64::try_from(fen("ceiling", *ceiling)?)
                .context("the ceiling is too large")?,
            start_ns: time_ns(start).context("--start")?,
            end_ns: time_ns(end).context("--end")?,
            pricing: match pricing {
                PricingArg::Uniform => Pricing::Uniform,
                PricingArg::PayAsBid => Pricing::PayAsBid,
            },
        },
        Action::CloseAuction { auction_id } => AdminAction::CloseAuction {
            auction_id: *auction_id,
        },
        Action::WithdrawAuction { auction_id } => AdminAction::WithdrawAuction {
            auction_id: *auction_id,
        },
        Action::Batch { .. } => bail!("a batch holds single actions"),
    })
}

/// How an auction prices its winning bids.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum PricingArg {
    /// Every winner pays the lowest accepted bid's price.
    Uniform,
    /// Every winner pays its own bid.
    PayAsBid,
}

/// An RFC 3339 time as nanoseconds since the Unix epoch.
fn time_ns(text: &str) -> Result<i64> {
    crate::time_arg(text)
        .map_err(anyhow::Error::msg)?
        .timestamp_nanos_opt()
        .context("the time is out of range")
}

const fn broker_status(b: &BrokerArg, status: Status) -> AdminAction {
    AdminAction::SetBrokerStatus {
        broker: b.broker,
        status,
    }
}

const fn account_status(a: &AccountArg, status: Status) -> AdminAction {
    AdminAction::SetAccountStatus {
        account: a.account,
        status,
    }
}

/// CNY as fen (hundredths), exactly; `what` (`amount`, `price`…) names
/// it in the error.
fn fen(what: &str, cny: Decimal) -> Result<u64> {
    let fen = cny * Decimal::ONE_HUNDRED;
    if fen.fract() != Decimal::ZERO || fen <= Decimal::ZERO {
        bail!("{what} {cny} CNY is not positive and exact to the fen (0.01)");
    }
    u64::try_from(fen).map_err(|_| {
        anyhow::anyhow!("{what} {cny} CNY is more than an amount can hold (2^64 - 1 fen)")
    })
}

/// The rows of a batch file, each with a `line N: ` label.
fn read_batch(file: &Path) -> Result<Vec<(String, AdminAction)>> {
    let text =
        std::fs::read(file).with_context(|| format!("reading the batch {}", file.display()))?;
    let header = "action,account,symbol,quantity,amount,reference";
    // A field keeps its spaces: a reference is what it was applied as, so
    // that a file re-sent is the same transfers.
    let Some(mut rows) = cetx_gateway::csv_input::Rows::new(&text, false)
        .map_err(|problem| anyhow::anyhow!("{}: {problem}", file.display()))?
    else {
        bail!(
            "{}: the file is empty: its first line must be the header {header}",
            file.display()
        );
    };
    if let Some(missing) = ["action", "account", "reference"]
        .into_iter()
        .find(|name| !rows.header().iter().any(|h| h == *name))
    {
        bail!(
            "{}: line {}: the header names no `{missing}` (it must be {header})",
            file.display(),
            rows.header_line()
        );
    }
    // A column it does not know would be passed over: a misspelt
    // `amount` would leave every row without one. One without a name (a
    // comma at the header's end, as spreadsheets write) holds nothing.
    if let Some(unknown) = rows
        .header()
        .iter()
        .find(|name| !name.is_empty() && !header.split(',').any(|known| known == *name))
    {
        bail!(
            "{}: line {}: the header names `{unknown}`, which is no column (it must be {header})",
            file.display(),
            rows.header_line()
        );
    }
    let mut actions = Vec::new();
    let must_be = [
        ("account", "an account number from 0 to 2^32 - 1"),
        ("quantity", "whole tonnes, from 1 to 2^64 - 1"),
    ];
    let problem = |problem: String| anyhow::anyhow!("{}: {problem}", file.display());
    while let Some(line) = rows.next_row().map_err(problem)? {
        let row: BatchRow = rows.deserialize(&must_be).map_err(problem)?;
        let action = row
            .action()
            .with_context(|| format!("{}: line {line}", file.display()))?;
        actions.push((format!("line {line}: "), action));
    }
    if actions.is_empty() {
        bail!(
            "{}: no rows after the header line: nothing to send",
            file.display()
        );
    }
    Ok(actions)
}

/// One row of a batch file.
#[derive(Debug, serde::Deserialize)]
struct BatchRow {
    action: String,
    account: u32,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    quantity: Option<u64>,
    #[serde(default, deserialize_with = "optional_cny")]
    amount: Option<Decimal>,
    reference: String,
}

/// A batch row's amount: empty, or CNY as `cetx_engine::parse_cny` reads
/// it (as `--amount` is), never a looser number.
fn optional_cny<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    text.filter(|t| !t.is_empty())
        .map(|t| cetx_engine::parse_cny(&t).map_err(serde::de::Error::custom))
        .transpose()
}

impl BatchRow {
    fn action(&self) -> Result<AdminAction> {
        let needs_symbol = || {
            if self.symbol.is_empty() {
                bail!("{} needs a symbol", self.action)
            }
            self.quantity
                .with_context(|| format!("{} needs a quantity", self.action))
        };
        let needs_amount = || {
            self.amount
                .with_context(|| format!("{} needs an amount", self.action))
        };
        let (account, reference) = (self.account, self.reference.clone());
        let cash = || -> Result<Cash> {
            if !self.symbol.is_empty() || self.quantity.is_some() {
                bail!(
                    "{} moves cash: it takes an amount, not a symbol or a quantity",
                    self.action
                );
            }
            Ok(Cash {
                account,
                amount: needs_amount()?,
                reference: reference.clone(),
            })
        };
        let allowances = || -> Result<Allowances> {
            if self.amount.is_some() {
                bail!(
                    "{} moves allowances: it takes a symbol and a quantity, not an amount",
                    self.action
                );
            }
            Ok(Allowances {
                account,
                qty: needs_symbol()?,
                symbol: self.symbol.clone(),
                reference: reference.clone(),
            })
        };
        to_wire(&match self.action.as_str() {
            "deposit" => Action::Deposit(cash()?),
            "withdraw" => Action::Withdraw(cash()?),
            "transfer-in" => Action::TransferIn(allowances()?),
            "transfer-out" => Action::TransferOut(allowances()?),
            other => bail!(
                "unknown action {other:?}: a batch row is deposit, withdraw, transfer-in or transfer-out"
            ),
        })
    }
}
