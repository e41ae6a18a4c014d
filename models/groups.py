"""Group-buy (拼团): campaigns ("activities") with team tiers, teams, and who is in which team."""
import peewee

from models.base import ShopScoped, utcnow

TEAM_PENDING, TEAM_OPEN, TEAM_SUCCESS, TEAM_FAILED = "pending", "open", "success", "failed"


class GroupActivity(ShopScoped):
    title = peewee.CharField(max_length=100)
    goods_id = peewee.IntegerField()
    tiers = peewee.TextField()  # JSON [{"team_size": 2, "price_fen": 3900}, ...]
    # JSON [{"sku_id": 7, "team_size": 2, "price_fen": 3500}, ...]: SKUs priced apart from the tier
    sku_prices = peewee.TextField(default="[]")
    single_price_fen = peewee.BigIntegerField(null=True)  # buy alone, when offered
    duration_seconds = peewee.IntegerField()  # how long a team has to fill
    purchase_limit = peewee.IntegerField(default=0)  # per member across the campaign, 0 = none
    starts_at = peewee.DateTimeField(null=True)
    ends_at = peewee.DateTimeField(null=True)
    enabled = peewee.BooleanField(default=True)
    deleted = peewee.BooleanField(default=False)  # hidden everywhere; its teams and orders keep their history
    # simulated success (模拟成团): at expiry a team with at least this many paid members succeeds; 0 = off
    simulate_min_paid = peewee.SmallIntegerField(default=0)
    pickup = peewee.BooleanField(default=False)  # collected in store with a redemption code (核销), not shipped
    share_title = peewee.CharField(max_length=100, default="")
    share_image = peewee.CharField(max_length=500, default="")
    share_desc = peewee.CharField(max_length=255, default="")
    service_contact = peewee.CharField(max_length=100, default="")  # phone or WeChat id shown to shoppers
    content = peewee.TextField(default="")  # rich text (sanitized HTML)
    # display counters, bumped through services.counters (buffered, one UPDATE per flush)
    visits = peewee.BigIntegerField(default=0)
    shares = peewee.BigIntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)


class GroupTeam(ShopScoped):
    activity_id = peewee.IntegerField(index=True)
    leader_member_id = peewee.IntegerField()
    team_size = peewee.SmallIntegerField()
    price_fen = peewee.BigIntegerField()
    status = peewee.CharField(max_length=8, default=TEAM_PENDING)
    # seats held by joined members whose orders are unpaid or paid; never above team_size
    seats_taken = peewee.SmallIntegerField(default=1)
    paid_count = peewee.SmallIntegerField(default=0)  # never above team_size
    expires_at = peewee.DateTimeField()
    succeeded_at = peewee.DateTimeField(null=True)
    failed_at = peewee.DateTimeField(null=True)
    closed_by = peewee.CharField(max_length=32, default="")  # "expiry", "simulated", "staff:7" — who ended it early
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("status", "expires_at"), False), (("shop_id", "succeeded_at"), False),
                   (("shop_id", "failed_at"), False), (("succeeded_at",), False), (("failed_at",), False))


class GroupMember(ShopScoped):
    team_id = peewee.IntegerField()
    member_id = peewee.IntegerField()
    order_id = peewee.IntegerField()
    is_leader = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("team_id", "member_id"), True),)
