"""Flash sales (秒杀): sales with a time window, items sold from pools carved out of the goods'
stock, per-process sold-out marks, and live stock on `flash:{sale_id}`.

- sales: create / edit / delete / read, figures, and the clock (start and end announcements,
  pools given back at the end)
- pool: buying (conditional pool UPDATE + per-member limit + the order at the flash price),
  units coming back (the `restock` reaction), sold-out marks, coalesced `flash.stock` events
"""
from services.flash.pool import admit, buy, refuse_if_sold_out, return_units
from services.flash.sales import (
    create_sale,
    delete_sale,
    list_sales,
    run_clock,
    sale_detail,
    sale_stats,
    shopper_sale,
    shopper_sales,
    update_sale,
)

__all__ = ["admit", "buy", "create_sale", "delete_sale", "list_sales", "refuse_if_sold_out", "return_units", "run_clock",
           "sale_detail", "sale_stats", "shopper_sale", "shopper_sales", "update_sale"]
