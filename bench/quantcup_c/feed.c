/* The QuantCup 2011 winner (engine.c, by "voyager") as the bench calls it.
 *
 * engine.c is the contest entry unchanged. Its public names are renamed
 * here so that they cannot clash with anything else linked into a Rust
 * binary; the system headers it includes come first, so the renames touch
 * only the engine. Its state is global: one replay at a time (the Rust
 * side, cetx_bench::quantcup_c, holds a lock for it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define init quantcup_c_engine_init
#define destroy quantcup_c_engine_destroy
#define limit quantcup_c_engine_limit
#define cancel quantcup_c_engine_cancel
#define execution quantcup_c_engine_execution
#define is_ask quantcup_c_engine_is_ask
#define EXECUTE_TRADE quantcup_c_engine_execute_trade
#define ppInsertOrder quantcup_c_engine_pp_insert_order
#include "engine.c"

/* Tonnes traded since the last quantcup_c_start: the buy side's report of
 * each trade (engine.c reports every trade once for each side). */
static unsigned long traded;

void execution(t_execution exec) {
  if (exec.side == 0)
    traded += exec.size;
}

/* An empty book, as before each replay of the contest's score.c. */
void quantcup_c_start(void) {
  init();
  traded = 0;
}

/* The contest's score.c feed(): a price of 0 is a cancel of the order
 * whose id is in size. */
void quantcup_c_feed(const t_order *feed, unsigned long len) {
  unsigned long i;
  for (i = 0; i < len; i++) {
    if (feed[i].price == 0) {
      cancel(feed[i].size);
    } else {
      limit(feed[i]);
    }
  }
}

unsigned long quantcup_c_traded(void) { return traded; }

/* Orders the arena holds, ids 0 to MAX_NUM_ORDERS - 1: limit() and cancel()
 * index it with no check, so the Rust side checks every feed against it. */
unsigned long quantcup_c_arena_orders(void) { return MAX_NUM_ORDERS; }

/* The layout of t_order, which the Rust side mirrors. */
unsigned long quantcup_c_order_size(void) { return sizeof(t_order); }
