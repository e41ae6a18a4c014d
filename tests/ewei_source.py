"""An ewei_shopv2 (人人商城) source database on MariaDB for the import tests and the benchmark: the
columns the importer reads, with the types of ewei_shopv2's install.php (MyISAM, as there), and a
generator of a large order table for the streaming path."""
from __future__ import annotations

DDL = [
    """CREATE TABLE ims_ewei_shop_category (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       name varchar(50), parentid int DEFAULT 0, displayorder tinyint DEFAULT 0, enabled tinyint(1) DEFAULT 1)
       ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_goods (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0, pcate int DEFAULT 0,
       ccate int DEFAULT 0, tcate int DEFAULT 0, type tinyint(1) DEFAULT 1, status tinyint(1) DEFAULT 1,
       displayorder int DEFAULT 0, title varchar(100) DEFAULT '', thumb varchar(255) DEFAULT '', thumb_url text,
       content text, productprice decimal(10,2) DEFAULT '0.00', marketprice decimal(10,2) DEFAULT '0.00',
       total int DEFAULT 0, totalcnf int DEFAULT 0, sales int DEFAULT 0, salesreal int DEFAULT 0,
       weight decimal(10,2) DEFAULT '0.00', hasoption int DEFAULT 0, deleted tinyint DEFAULT 0, createtime int DEFAULT 0,
       usermaxbuy int DEFAULT 0, merchid int DEFAULT 0) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_goods_spec (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       goodsid int DEFAULT 0, title varchar(50), content text, displayorder int DEFAULT 0) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_goods_spec_item (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       specid int DEFAULT 0, title varchar(255), displayorder int DEFAULT 0) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_goods_option (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       goodsid int DEFAULT 0, title varchar(50), marketprice decimal(10,2) DEFAULT '0.00', stock int DEFAULT 0,
       displayorder int DEFAULT 0, specs text, goodssn varchar(255)) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_member_level (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       level int DEFAULT 0, levelname varchar(50), ordermoney decimal(10,2) DEFAULT '0.00',
       discount decimal(10,2) DEFAULT '0.00', enabled tinyint DEFAULT 0) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_member (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0, uid int DEFAULT 0,
       level int DEFAULT 0, agentid int DEFAULT 0, openid varchar(50) DEFAULT '', realname varchar(20) DEFAULT '',
       mobile varchar(11) DEFAULT '', pwd varchar(32) DEFAULT '', createtime int DEFAULT 0, agenttime int DEFAULT 0,
       status tinyint(1) DEFAULT 0, isagent tinyint(1) DEFAULT 0, nickname varchar(255) DEFAULT '',
       credit1 decimal(10,2) DEFAULT '0.00', credit2 decimal(10,2) DEFAULT '0.00', gender tinyint DEFAULT 0,
       avatar varchar(255) DEFAULT '', isblack int DEFAULT 0, openid_wa varchar(50) DEFAULT NULL) ENGINE=MyISAM""",
    """CREATE TABLE ims_mc_members (uid int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       mobile varchar(18) DEFAULT '', credit1 decimal(10,2) DEFAULT '0.00', credit2 decimal(10,2) DEFAULT '0.00',
       createtime int DEFAULT 0, nickname varchar(20) DEFAULT '', avatar varchar(255) DEFAULT '') ENGINE=MyISAM""",
    """CREATE TABLE ims_mc_mapping_fans (fanid int AUTO_INCREMENT PRIMARY KEY, acid int DEFAULT 0,
       uniacid int DEFAULT 0, uid int DEFAULT 0, openid varchar(50) DEFAULT '', nickname varchar(50) DEFAULT '',
       follow tinyint DEFAULT 1, unionid varchar(64) DEFAULT '') ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_member_address (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       openid varchar(50), realname varchar(20), mobile varchar(11), province varchar(30), city varchar(30),
       area varchar(30), address varchar(300), isdefault tinyint(1) DEFAULT 0, deleted tinyint(1) DEFAULT 0)
       ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_order (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0, openid varchar(50),
       agentid int DEFAULT 0, ordersn varchar(30), price decimal(10,2) DEFAULT '0.00',
       goodsprice decimal(10,2) DEFAULT '0.00', discountprice decimal(10,2) DEFAULT '0.00', status tinyint DEFAULT 0,
       paytype tinyint(1) DEFAULT 0, transid varchar(30) DEFAULT '', remark varchar(1000) DEFAULT '',
       dispatchprice decimal(10,2) DEFAULT '0.00', createtime int DEFAULT 0, finishtime int DEFAULT 0,
       paytime int DEFAULT 0, sendtime int DEFAULT 0, canceltime int DEFAULT 0, refundtime int DEFAULT 0,
       expresscom varchar(30) DEFAULT '', expresssn varchar(50) DEFAULT '', express varchar(255) DEFAULT '',
       address text, merchid int DEFAULT 0, isparent tinyint(1) DEFAULT 0) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_order_goods (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       orderid int DEFAULT 0, goodsid int DEFAULT 0, price decimal(10,2) DEFAULT '0.00', total int DEFAULT 1,
       optionid int DEFAULT 0, optionname text, commission1 text, status1 tinyint DEFAULT 0, commission2 text,
       status2 tinyint DEFAULT 0, commission3 text, status3 tinyint DEFAULT 0, realprice decimal(10,2) DEFAULT '0.00',
       commissions text, merchid int DEFAULT 0) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_coupon (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0, couponname varchar(255)
       DEFAULT '', gettype tinyint DEFAULT 0, getmax int DEFAULT 0, enough decimal(10,2) DEFAULT '0.00',
       timelimit tinyint DEFAULT 0, coupontype tinyint DEFAULT 0, timedays int DEFAULT 0, timestart int DEFAULT 0,
       timeend int DEFAULT 0, discount decimal(10,2) DEFAULT '0.00', deduct decimal(10,2) DEFAULT '0.00',
       backtype tinyint DEFAULT 0, createtime int DEFAULT 0, total int DEFAULT 0, status tinyint DEFAULT 0,
       merchid int DEFAULT 0, limitgoodtype tinyint(1) DEFAULT 0, limitgoodcatetype tinyint(1) DEFAULT 0,
       limitgoodcateids varchar(500) DEFAULT '', limitgoodids varchar(500) DEFAULT '') ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_coupon_data (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       openid varchar(255) DEFAULT '', couponid int DEFAULT 0, gettype tinyint DEFAULT 0, used int DEFAULT 0,
       usetime int DEFAULT 0, gettime int DEFAULT 0, ordersn varchar(255) DEFAULT '', merchid int DEFAULT 0)
       ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_groups_goods (id int AUTO_INCREMENT PRIMARY KEY, displayorder int DEFAULT 0,
       uniacid int DEFAULT 0, title varchar(255) NOT NULL DEFAULT '', stock int NOT NULL DEFAULT 0,
       price decimal(10,2) DEFAULT '0.00', groupsprice decimal(10,2) DEFAULT '0.00',
       singleprice decimal(10,2) DEFAULT '0.00', endtime int NOT NULL DEFAULT 0, groupnum int NOT NULL DEFAULT 0,
       content text, createtime int NOT NULL DEFAULT 0, status tinyint NOT NULL DEFAULT 0,
       deleted tinyint NOT NULL DEFAULT 0, goodsid int NOT NULL DEFAULT 0, share_title varchar(255) DEFAULT NULL,
       share_icon varchar(255) DEFAULT NULL, share_desc varchar(500) DEFAULT NULL,
       purchaselimit int NOT NULL DEFAULT 0, single tinyint NOT NULL DEFAULT 0, gid int DEFAULT 0,
       merchid int DEFAULT 0, is_ladder tinyint(1) DEFAULT 0) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_groups_ladder (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT NULL,
       goods_id int DEFAULT 0, ladder_num int DEFAULT NULL, ladder_price decimal(10,2) DEFAULT NULL) ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_groups_order (id int AUTO_INCREMENT PRIMARY KEY, uniacid int NOT NULL DEFAULT 0,
       openid varchar(45) NOT NULL, orderno varchar(45) NOT NULL, groupnum int NOT NULL, paytime int NOT NULL,
       price decimal(11,2) DEFAULT '0.00', freight decimal(11,2) DEFAULT '0.00', status int NOT NULL,
       pay_type varchar(45) DEFAULT NULL, goodid int NOT NULL, teamid int NOT NULL, is_team int NOT NULL,
       heads int DEFAULT 0, starttime int NOT NULL, endtime int NOT NULL, createtime int NOT NULL,
       success int NOT NULL DEFAULT 0, credit int DEFAULT 0, creditmoney decimal(11,2) DEFAULT '0.00',
       address varchar(1000) DEFAULT NULL, discount decimal(10,2) DEFAULT '0.00', canceltime int NOT NULL DEFAULT 0,
       finishtime int NOT NULL DEFAULT 0, refundtime int NOT NULL DEFAULT 0, expresscom varchar(100) DEFAULT NULL,
       expresssn varchar(45) DEFAULT NULL, sendtime int DEFAULT 0, message varchar(255) DEFAULT NULL,
       goods_option_id int DEFAULT 0, specs varchar(255) DEFAULT '') ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_commission_apply (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0,
       applyno varchar(255) DEFAULT '', mid int DEFAULT 0, type tinyint DEFAULT 0, orderids longtext,
       commission decimal(10,2) DEFAULT '0.00', commission_pay decimal(10,2) DEFAULT '0.00', status tinyint DEFAULT 0,
       applytime int DEFAULT 0, checktime int DEFAULT 0, paytime int DEFAULT 0, invalidtime int DEFAULT 0,
       refusetime int DEFAULT 0, realmoney decimal(10,2) DEFAULT '0.00') ENGINE=MyISAM""",
    """CREATE TABLE ims_ewei_shop_sysset (id int AUTO_INCREMENT PRIMARY KEY, uniacid int DEFAULT 0, sets longtext,
       plugins longtext, sec text) ENGINE=MyISAM""",
    # 微擎's payment log: a plugin order's WeChat transaction id is in `tag`, PHP-serialized
    """CREATE TABLE ims_core_paylog (plid bigint AUTO_INCREMENT PRIMARY KEY, type varchar(20) NOT NULL,
       uniacid int NOT NULL, acid int NOT NULL, openid varchar(40) NOT NULL, uniontid varchar(64) NOT NULL,
       tid varchar(128) NOT NULL, fee decimal(10,2) NOT NULL, status tinyint NOT NULL, module varchar(50) NOT NULL,
       tag varchar(2000) NOT NULL) ENGINE=MyISAM""",
]


def generate_orders(cur, orders: int, members: int = 2000, uniacid: int = 7, first_id: int = 1) -> None:
    """`members` shop members (openid m<N>; #1 a distributor who referred the rest), one goods, and
    `orders` orders with one line each, built by MariaDB from its sequence tables in a few
    statements: statuses cycle through completed, completed, shipped, paid and cancelled; prices
    run 1.00 .. 10.99 yuan; every order pays its buyer's referrer 0.50 at level 1, in the order's
    state (withdrawable, applied for, paid, invalid)."""
    last = first_id + orders - 1
    cur.execute(f"INSERT INTO ims_ewei_shop_member (id, uniacid, openid, nickname, agentid, isagent, status) "
                f"SELECT seq, {uniacid}, CONCAT('m', seq), CONCAT('会员', seq), IF(seq = 1, 0, 1), seq = 1, seq = 1 "
                f"FROM seq_1_to_{members}")
    cur.execute(f"INSERT INTO ims_ewei_shop_goods (id, uniacid, title, marketprice, total) "
                f"VALUES (900, {uniacid}, '批量货', '9.90', 100000)")
    cur.execute(f"INSERT INTO ims_ewei_shop_order (id, uniacid, openid, agentid, ordersn, price, goodsprice, status, "
                f"paytype, transid, createtime, paytime, finishtime, sendtime, expresscom, expresssn) "
                f"SELECT seq, {uniacid}, CONCAT('m', 2 + seq % ({members} - 1)), 1, CONCAT('BK', seq), "
                f"1 + (seq % 1000) / 100, 1 + (seq % 1000) / 100, ELT(1 + seq % 5, 3, 3, 2, 1, -1), 21, "
                f"CONCAT('42', seq), 1600000000 + seq, 1600000100 + seq, IF(seq % 5 < 2, 1600100000 + seq, 0), "
                f"IF(seq % 5 < 3, 1600050000 + seq, 0), IF(seq % 5 < 3, '顺丰', ''), IF(seq % 5 < 3, CONCAT('SF', seq), '') "
                f"FROM seq_{first_id}_to_{last}")
    cur.execute(f"INSERT INTO ims_ewei_shop_order_goods (id, uniacid, orderid, goodsid, price, total, realprice, "
                f"commissions, status1) "
                f"SELECT seq, {uniacid}, seq, 900, 1 + (seq % 1000) / 100, 1, 1 + (seq % 1000) / 100, "
                f"'a:1:{{s:6:\"level1\";s:4:\"0.50\";}}', ELT(1 + seq % 5, 0, 3, 1, 0, -1) "
                f"FROM seq_{first_id}_to_{last}")
    # the distributor's withdrawals: one for what is applied for, one for what was paid
    for status, state in ((1, 1), (3, 3)):
        cur.execute(f"INSERT INTO ims_ewei_shop_commission_apply (uniacid, mid, type, commission, status, applytime, paytime) "
                    f"SELECT {uniacid}, 1, 1, COUNT(*) * 0.50, {status}, 1600200000, 1600300000 "
                    f"FROM ims_ewei_shop_order_goods WHERE uniacid = {uniacid} AND status1 = {state}")
