//! The market's symbols as they grow: the journal, not the config, says
//! which instruments trade, and an operator may list one while the server
//! runs (`docs/ADMIN.md`, *Listing an instrument*).
//!
//! The engine thread is the only writer: when it applies a
//! `ListInstrument`, it publishes a new table with the symbol at the
//! instrument's id ([`Published::store`]). Everyone else reads. A session
//! resolves a symbol per order, so it keeps its own copy of the table
//! ([`SymbolCache`]) and looks there without any synchronisation; since
//! symbols are only ever added, a copy is never wrong about a symbol it
//! knows, and only a miss (a new instrument, or a symbol no instrument
//! has) looks at the shared table again, under a read lock.

use std::sync::{Arc, PoisonError, RwLock};

use cetx_engine::{Engine, InstrumentId};

use crate::protocol::Symbol;

/// A value read often and replaced rarely, by one writer: readers take
/// the current `Arc` (a read lock held for a clone) and keep it as long as
/// they like.
#[derive(Debug, Default)]
pub(crate) struct Published<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Published<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            current: RwLock::new(Arc::new(value)),
        }
    }

    /// The value now.
    pub(crate) fn load(&self) -> Arc<T> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the value; readers see it from their next [`Self::load`].
    pub(crate) fn store(&self, value: Arc<T>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

/// Every instrument's symbol, by instrument id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolTable {
    symbols: Vec<Symbol>,
}

impl SymbolTable {
    /// The symbols of every instrument `engine` lists, by id.
    #[must_use]
    pub fn of(engine: &Engine) -> Self {
        Self {
            symbols: engine
                .instrument_ids()
                .map(|id| Symbol::from(engine.symbol(id).unwrap_or_default()))
                .collect(),
        }
    }

    /// The id of the instrument with this symbol. A linear scan: markets
    /// list a handful of instruments, and short strings compare fast.
    #[must_use]
    pub fn id(&self, symbol: &str) -> Option<InstrumentId> {
        let i = self.symbols.iter().position(|s| s == symbol)?;
        u16::try_from(i).ok().map(InstrumentId)
    }

    /// The symbol of an instrument.
    #[must_use]
    pub fn symbol(&self, instrument: InstrumentId) -> Option<&str> {
        self.symbols
            .get(usize::from(instrument.0))
            .map(Symbol::as_str)
    }

    /// Every symbol, by instrument id.
    #[must_use]
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// The table with `symbol` at `instrument` (the next id, as the engine
    /// lists).
    #[must_use]
    pub(crate) fn with(&self, instrument: InstrumentId, symbol: &str) -> Self {
        let mut symbols = self.symbols.clone();
        let i = usize::from(instrument.0);
        if i >= symbols.len() {
            symbols.resize(i + 1, Symbol::default());
        }
        symbols[i] = Symbol::from(symbol);
        Self { symbols }
    }
}

/// A session's copy of the symbol table: a look-up costs no lock unless
/// the symbol is not in the copy.
#[derive(Debug, Clone)]
pub struct SymbolCache {
    shared: Arc<Published<SymbolTable>>,
    table: Arc<SymbolTable>,
}

impl SymbolCache {
    pub(crate) fn new(shared: Arc<Published<SymbolTable>>) -> Self {
        let table = shared.load();
        Self { shared, table }
    }

    /// The id of the instrument with this symbol, as the market lists now.
    pub fn resolve(&mut self, symbol: &str) -> Option<InstrumentId> {
        if let Some(id) = self.table.id(symbol) {
            return Some(id);
        }
        let latest = self.shared.load();
        if Arc::ptr_eq(&latest, &self.table) {
            return None;
        }
        self.table = latest;
        self.table.id(symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(symbols: &[&str]) -> SymbolTable {
        SymbolTable {
            symbols: symbols.iter().map(|s| Symbol::from(*s)).collect(),
        }
    }

    #[test]
    fn a_cache_finds_a_symbol_listed_after_it_was_made() {
        let shared = Arc::new(Published::new(table(&["CEA2025", "CCER"])));
        let mut cache = SymbolCache::new(Arc::clone(&shared));
        assert_eq!(cache.resolve("CCER"), Some(InstrumentId(1)));
        assert_eq!(cache.resolve("CEA2026"), None);
        let grown = shared.load().with(InstrumentId(2), "CEA2026");
        shared.store(Arc::new(grown));
        assert_eq!(cache.resolve("CEA2026"), Some(InstrumentId(2)));
        assert_eq!(cache.resolve("CEA2025"), Some(InstrumentId(0)));
        assert_eq!(cache.resolve("NOPE"), None);
        assert_eq!(shared.load().symbol(InstrumentId(2)), Some("CEA2026"));
    }
}
