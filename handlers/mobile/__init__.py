"""The shoppers' API (`/api/mobile/{shop_id}`): public reads, and member-token writes for that shop."""
