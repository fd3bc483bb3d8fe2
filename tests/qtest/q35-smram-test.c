/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest of SMRAM isolation in the Q35 host bridge, the guarantee of the
 * whole chipset in one place: the 128 KiB window at the default SMBASE
 * (register 0x9c, docs/specs/q35-smram.rst), legacy A/B segment SMRAM and
 * TSEG.  qtest accesses memory as a non-SMM agent: each test puts a
 * pattern in RAM while it is open, protects the range, checks that reads
 * and writes from outside SMM neither see nor disturb RAM, then opens the
 * range again (reset, or D_OPEN / T_EN while unlocked) and finds the
 * pattern intact.
 *
 * Upstream's tests/qtest/q35-test.c covers the rest of 0x9c and is not
 * repeated here: the lock that no write undoes, with the window
 * blackholed, until reset (/q35/smram/smbase_lock), and the plain byte
 * of the machine types without the window (/q35/smram/legacy_smbase on
 * pc-q35-4.1, which inherits pc-q35-4.2's smbase-smram=off).
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "hw/pci-host/q35.h"
#include "qobject/qdict.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"

#define SMBASE_REG          MCH_HOST_BRIDGE_F_SMBASE
#define SMBASE_ADDR         MCH_HOST_BRIDGE_SMBASE_ADDR
#define SMBASE_SIZE         MCH_HOST_BRIDGE_SMBASE_SIZE
#define STRIDE              (4 * KiB)
#define GUEST_RAM_MB        128
#define TSEG_SIZE           (1 * MiB)   /* ESMRAMC.TSEG_SZ = 0 */
#define TSEG_ADDR           (GUEST_RAM_MB * MiB - TSEG_SIZE)

typedef struct Host {
    QTestState *qts;
    QPCIBus *pcibus;
    QPCIDevice *mch;
} Host;

/* Take over a started QEMU: qtest_initf() gives the command line. */
static Host *host_start(QTestState *qts)
{
    Host *h = g_new0(Host, 1);

    h->qts = qts;
    h->pcibus = qpci_new_pc(h->qts, NULL);
    h->mch = qpci_device_find(h->pcibus, 0);
    g_assert(h->mch);
    return h;
}

static void host_stop(Host *h)
{
    g_free(h->mch);
    qpci_free_pc(h->pcibus);
    qtest_quit(h->qts);
    g_free(h);
}

static void host_reset(Host *h)
{
    qtest_qmp_assert_success(h->qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(h->qts, "RESET");
}

static uint8_t reg_read(Host *h, uint8_t reg)
{
    return qpci_config_readb(h->mch, reg);
}

static void reg_write(Host *h, uint8_t reg, uint8_t val)
{
    qpci_config_writeb(h->mch, reg, val);
}

/* A value per location, so a write that lands elsewhere is noticed too */
static uint8_t pattern(uint64_t addr, uint8_t seed)
{
    return (addr >> 12) ^ (addr & 0xff) ^ seed;
}

/* First byte, last byte and every 4 KiB of [base, base + size) */
static int probe_count(uint64_t size)
{
    return size / STRIDE + 1;
}

static uint64_t probe_addr(uint64_t base, uint64_t size, int i)
{
    return i == probe_count(size) - 1 ? base + size - 1 : base + i * STRIDE;
}

static void fill(Host *h, uint64_t base, uint64_t size, uint8_t seed)
{
    int i;

    for (i = 0; i < probe_count(size); i++) {
        uint64_t a = probe_addr(base, size, i);

        qtest_writeb(h->qts, a, pattern(a, seed));
    }
}

static void assert_pattern(Host *h, uint64_t base, uint64_t size,
                           uint8_t seed)
{
    int i;

    for (i = 0; i < probe_count(size); i++) {
        uint64_t a = probe_addr(base, size, i);

        g_assert_cmphex(qtest_readb(h->qts, a), ==, pattern(a, seed));
    }
}

/* From outside SMM: reads all-ones, writes go nowhere */
static void assert_blackholed(Host *h, uint64_t base, uint64_t size,
                              uint8_t seed)
{
    int i;

    for (i = 0; i < probe_count(size); i++) {
        uint64_t a = probe_addr(base, size, i);

        g_assert_cmphex(qtest_readb(h->qts, a), ==, 0xff);
        qtest_writeb(h->qts, a, pattern(a, seed));
        g_assert_cmphex(qtest_readb(h->qts, a), ==, 0xff);
    }
    g_assert_cmphex(qtest_readl(h->qts, base), ==, 0xffffffff);
}

/* From outside SMM: whatever is there, it is not the RAM pattern */
static void assert_not_ram(Host *h, uint64_t base, uint64_t size,
                           uint8_t ram_seed, uint8_t write_seed)
{
    int i;

    for (i = 0; i < probe_count(size); i++) {
        uint64_t a = probe_addr(base, size, i);

        g_assert_cmphex(qtest_readb(h->qts, a), !=, pattern(a, ram_seed));
        qtest_writeb(h->qts, a, pattern(a, write_seed));
    }
}

static void smbase_query(Host *h)
{
    reg_write(h, SMBASE_REG, MCH_HOST_BRIDGE_F_SMBASE_QUERY);
    g_assert_cmphex(reg_read(h, SMBASE_REG), ==,
                    MCH_HOST_BRIDGE_F_SMBASE_IN_RAM);
}

static void smbase_lock(Host *h)
{
    smbase_query(h);
    reg_write(h, SMBASE_REG, MCH_HOST_BRIDGE_F_SMBASE_LCK);
    g_assert_cmphex(reg_read(h, SMBASE_REG), ==, MCH_HOST_BRIDGE_F_SMBASE_LCK);
}

/* Before a query: only the query itself does anything */
static void test_smbase_register_before_query(void)
{
    Host *h = host_start(qtest_init("-machine q35"));
    unsigned v;

    g_assert_cmphex(reg_read(h, SMBASE_REG), ==, 0);
    for (v = 0; v < MCH_HOST_BRIDGE_F_SMBASE_QUERY; v++) {
        reg_write(h, SMBASE_REG, v);
        g_assert_cmphex(reg_read(h, SMBASE_REG), ==, 0);
    }
    fill(h, SMBASE_ADDR, SMBASE_SIZE, 0x11);
    assert_pattern(h, SMBASE_ADDR, SMBASE_SIZE, 0x11);
    smbase_query(h);
    assert_pattern(h, SMBASE_ADDR, SMBASE_SIZE, 0x11);
    host_stop(h);
}

/* After the query: any value with the lock bit locks, others do nothing */
static void test_smbase_register_after_query(void)
{
    Host *h = host_start(qtest_init("-machine q35"));
    unsigned v;

    fill(h, SMBASE_ADDR, SMBASE_SIZE, 0x22);
    for (v = 0; v <= 0xff; v++) {
        bool locks = v & MCH_HOST_BRIDGE_F_SMBASE_LCK;

        smbase_query(h);
        reg_write(h, SMBASE_REG, v);
        g_assert_cmphex(reg_read(h, SMBASE_REG), ==,
                        locks ? MCH_HOST_BRIDGE_F_SMBASE_LCK
                              : MCH_HOST_BRIDGE_F_SMBASE_IN_RAM);
        g_assert_cmphex(qtest_readb(h->qts, SMBASE_ADDR), ==,
                        locks ? 0xff : pattern(SMBASE_ADDR, 0x22));
        host_reset(h);
    }
    host_stop(h);
}

/* Locked, the window is SMRAM; reset returns it to RAM, pattern intact */
static void test_smbase_isolation_and_reset(void)
{
    Host *h = host_start(qtest_init("-machine q35"));

    fill(h, SMBASE_ADDR, SMBASE_SIZE, 0x33);
    assert_pattern(h, SMBASE_ADDR, SMBASE_SIZE, 0x33);
    /* the neighbours stay RAM */
    qtest_writeb(h->qts, SMBASE_ADDR - 1, 0x5a);
    qtest_writeb(h->qts, SMBASE_ADDR + SMBASE_SIZE, 0xa5);

    smbase_lock(h);
    assert_blackholed(h, SMBASE_ADDR, SMBASE_SIZE, 0x44);
    g_assert_cmphex(qtest_readb(h->qts, SMBASE_ADDR - 1), ==, 0x5a);
    g_assert_cmphex(qtest_readb(h->qts, SMBASE_ADDR + SMBASE_SIZE), ==, 0xa5);

    host_reset(h);
    g_assert_cmphex(reg_read(h, SMBASE_REG), ==, 0);
    assert_pattern(h, SMBASE_ADDR, SMBASE_SIZE, 0x33);
    fill(h, SMBASE_ADDR, SMBASE_SIZE, 0x55);
    assert_pattern(h, SMBASE_ADDR, SMBASE_SIZE, 0x55);
    /* and the protocol starts over */
    smbase_lock(h);
    assert_blackholed(h, SMBASE_ADDR, SMBASE_SIZE, 0x66);
    host_stop(h);
}

/* pc-q35-5.0, the first machine type with the feature, answers a query */
static void test_smbase_compat_first_with_feature(void)
{
    Host *h = host_start(qtest_init("-machine pc-q35-5.0"));

    smbase_lock(h);
    assert_blackholed(h, SMBASE_ADDR, SMBASE_SIZE, 0x12);
    host_stop(h);
}

static void migrate(Host *src, Host *dst, const char *uri)
{
    migrate_qmp(src->qts, NULL, uri, NULL, "{}");
    wait_for_migration_complete(src->qts);
    qtest_qmp_eventwait(dst->qts, "RESUME");
}

/*
 * The locked window stays locked on the destination (upstream 7.2 loses
 * the lock there and exposes SMRAM), and a queried one stays queried.
 */
static void test_smbase_state_survives_migration(const void *opaque)
{
    bool lock = GPOINTER_TO_INT(opaque);
    g_autofree char *tmp = g_dir_make_tmp("q35-smram-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migsock", tmp);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Host *src = host_start(qtest_init("-machine q35"));
    Host *dst = host_start(qtest_initf("-machine q35 -incoming %s", uri));

    fill(src, SMBASE_ADDR, SMBASE_SIZE, 0x21);
    if (lock) {
        smbase_lock(src);
    } else {
        smbase_query(src);
    }
    migrate(src, dst, uri);

    if (lock) {
        g_assert_cmphex(reg_read(dst, SMBASE_REG), ==,
                        MCH_HOST_BRIDGE_F_SMBASE_LCK);
        assert_blackholed(dst, SMBASE_ADDR, SMBASE_SIZE, 0x43);
        reg_write(dst, SMBASE_REG, 0);
        g_assert_cmphex(reg_read(dst, SMBASE_REG), ==,
                        MCH_HOST_BRIDGE_F_SMBASE_LCK);
        /* RAM came along and was not disturbed by the writes above */
        host_reset(dst);
        assert_pattern(dst, SMBASE_ADDR, SMBASE_SIZE, 0x21);
    } else {
        g_assert_cmphex(reg_read(dst, SMBASE_REG), ==,
                        MCH_HOST_BRIDGE_F_SMBASE_IN_RAM);
        assert_pattern(dst, SMBASE_ADDR, SMBASE_SIZE, 0x21);
        reg_write(dst, SMBASE_REG, MCH_HOST_BRIDGE_F_SMBASE_LCK);
        assert_blackholed(dst, SMBASE_ADDR, SMBASE_SIZE, 0x43);
    }

    host_stop(src);
    host_stop(dst);
    unlink(sock);
    rmdir(tmp);
}

/*
 * 16- and 32-bit config writes that cover 0x9c follow the same protocol
 * with the byte that lands on 0x9c, and leave SMRAM/ESMRAMC alone.
 */
static void test_smbase_register_wide_writes(void)
{
    Host *h = host_start(qtest_init("-machine q35"));
    uint32_t dword = qpci_config_readl(h->mch, SMBASE_REG);

    fill(h, SMBASE_ADDR, SMBASE_SIZE, 0x24);
    /* the byte on 0x9c is not a query: nothing happens */
    qpci_config_writel(h->mch, SMBASE_REG, dword | 0x01);
    g_assert_cmphex(reg_read(h, SMBASE_REG), ==, 0);
    /* a dword with the query in its low byte, then a word ending on it */
    qpci_config_writel(h->mch, SMBASE_REG,
                       dword | MCH_HOST_BRIDGE_F_SMBASE_QUERY);
    g_assert_cmphex(qpci_config_readl(h->mch, SMBASE_REG), ==,
                    dword | MCH_HOST_BRIDGE_F_SMBASE_IN_RAM);
    assert_pattern(h, SMBASE_ADDR, SMBASE_SIZE, 0x24);
    qpci_config_writew(h->mch, SMBASE_REG - 1,
                       MCH_HOST_BRIDGE_F_SMBASE_LCK << 8 |
                       reg_read(h, SMBASE_REG - 1));
    g_assert_cmphex(qpci_config_readl(h->mch, SMBASE_REG), ==,
                    dword | MCH_HOST_BRIDGE_F_SMBASE_LCK);
    assert_blackholed(h, SMBASE_ADDR, SMBASE_SIZE, 0x25);
    /* locked against wide writes too */
    qpci_config_writel(h->mch, SMBASE_REG, dword);
    g_assert_cmphex(reg_read(h, SMBASE_REG), ==, MCH_HOST_BRIDGE_F_SMBASE_LCK);
    host_reset(h);
    assert_pattern(h, SMBASE_ADDR, SMBASE_SIZE, 0x24);
    host_stop(h);
}

typedef struct SMBaseStreamCase {
    const char *name;
    uint8_t incoming;   /* in the stream */
    uint8_t state;      /* what the destination makes of it */
} SMBaseStreamCase;

static const SMBaseStreamCase smbase_stream_cases[] = {
    { "lock-bit-locks", 0x03, MCH_HOST_BRIDGE_F_SMBASE_LCK },
    { "all-ones-locks", 0xff, MCH_HOST_BRIDGE_F_SMBASE_LCK },
    { "no-lock-bit-resets", 0xfd, 0 },
};

/*
 * A value of 0x9c that the protocol cannot reach, from a stream made
 * elsewhere (here a source where 0x9c is a plain byte): the destination
 * takes the closest state, never a window half open.
 */
static void test_smbase_undefined_value_in_stream(const void *opaque)
{
    const SMBaseStreamCase *c = opaque;
    g_autofree char *tmp = g_dir_make_tmp("q35-smram-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migsock", tmp);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Host *src = host_start(qtest_init("-machine q35 "
                                      "-global mch.smbase-smram=off"));
    Host *dst = host_start(qtest_initf("-machine q35 -incoming %s", uri));

    fill(src, SMBASE_ADDR, SMBASE_SIZE, 0x61);
    reg_write(src, SMBASE_REG, c->incoming);
    g_assert_cmphex(reg_read(src, SMBASE_REG), ==, c->incoming);
    migrate(src, dst, uri);

    g_assert_cmphex(reg_read(dst, SMBASE_REG), ==, c->state);
    if (c->state == MCH_HOST_BRIDGE_F_SMBASE_LCK) {
        assert_blackholed(dst, SMBASE_ADDR, SMBASE_SIZE, 0x62);
        reg_write(dst, SMBASE_REG, 0);
        g_assert_cmphex(reg_read(dst, SMBASE_REG), ==, c->state);
        host_reset(dst);
    } else {
        /* the reset state: RAM, and the protocol works from there */
        assert_pattern(dst, SMBASE_ADDR, SMBASE_SIZE, 0x61);
        reg_write(dst, SMBASE_REG, MCH_HOST_BRIDGE_F_SMBASE_LCK);
        g_assert_cmphex(reg_read(dst, SMBASE_REG), ==, 0);
        smbase_lock(dst);
        assert_blackholed(dst, SMBASE_ADDR, SMBASE_SIZE, 0x62);
        host_reset(dst);
    }
    assert_pattern(dst, SMBASE_ADDR, SMBASE_SIZE, 0x61);

    host_stop(src);
    host_stop(dst);
    unlink(sock);
    rmdir(tmp);
}

static void smram_write(Host *h, uint8_t set, uint8_t clear)
{
    uint8_t v = reg_read(h, MCH_HOST_BRIDGE_SMRAM);

    reg_write(h, MCH_HOST_BRIDGE_SMRAM, (v | set) & ~clear);
}

/*
 * Legacy SMRAM at 0xa0000-0xbffff: RAM to everyone only while D_OPEN;
 * closed, non-SMM accesses go to the PCI (VGA) range; D_LCK keeps it so.
 */
static void test_legacy_smram_isolation(void)
{
    Host *h = host_start(qtest_init("-machine q35 -nodefaults"));
    uint64_t base = MCH_HOST_BRIDGE_SMRAM_C_BASE;
    uint64_t size = MCH_HOST_BRIDGE_SMRAM_C_SIZE;

    smram_write(h, MCH_HOST_BRIDGE_SMRAM_G_SMRAME |
                MCH_HOST_BRIDGE_SMRAM_D_OPEN, 0);
    fill(h, base, size, 0x31);
    assert_pattern(h, base, size, 0x31);

    smram_write(h, 0, MCH_HOST_BRIDGE_SMRAM_D_OPEN);
    assert_not_ram(h, base, size, 0x31, 0x32);
    smram_write(h, MCH_HOST_BRIDGE_SMRAM_D_OPEN, 0);
    assert_pattern(h, base, size, 0x31);

    smram_write(h, MCH_HOST_BRIDGE_SMRAM_D_LCK, MCH_HOST_BRIDGE_SMRAM_D_OPEN);
    smram_write(h, MCH_HOST_BRIDGE_SMRAM_D_OPEN, MCH_HOST_BRIDGE_SMRAM_D_LCK);
    g_assert_cmphex(reg_read(h, MCH_HOST_BRIDGE_SMRAM) &
                    (MCH_HOST_BRIDGE_SMRAM_D_OPEN |
                     MCH_HOST_BRIDGE_SMRAM_D_LCK), ==,
                    MCH_HOST_BRIDGE_SMRAM_D_LCK);
    assert_not_ram(h, base, size, 0x31, 0x33);

    /* reset unlocks; the RAM behind was never written from outside */
    host_reset(h);
    smram_write(h, MCH_HOST_BRIDGE_SMRAM_G_SMRAME |
                MCH_HOST_BRIDGE_SMRAM_D_OPEN, 0);
    assert_pattern(h, base, size, 0x31);
    host_stop(h);
}

/* TSEG below 4 GiB: blackholed once T_EN, and for good once D_LCK */
static void test_tseg_isolation(void)
{
    Host *h = host_start(qtest_initf("-machine q35 -m %d", GUEST_RAM_MB));

    fill(h, TSEG_ADDR, TSEG_SIZE, 0x41);
    assert_pattern(h, TSEG_ADDR, TSEG_SIZE, 0x41);
    qtest_writeb(h->qts, TSEG_ADDR - 1, 0x5a);

    smram_write(h, MCH_HOST_BRIDGE_SMRAM_G_SMRAME, 0);
    reg_write(h, MCH_HOST_BRIDGE_ESMRAMC, MCH_HOST_BRIDGE_ESMRAMC_TSEG_SZ_1MB |
              MCH_HOST_BRIDGE_ESMRAMC_T_EN);
    assert_blackholed(h, TSEG_ADDR, TSEG_SIZE, 0x42);
    /* the RAM just below stays RAM */
    g_assert_cmphex(qtest_readb(h->qts, TSEG_ADDR - 1), ==, 0x5a);

    reg_write(h, MCH_HOST_BRIDGE_ESMRAMC, MCH_HOST_BRIDGE_ESMRAMC_TSEG_SZ_1MB);
    assert_pattern(h, TSEG_ADDR, TSEG_SIZE, 0x41);

    reg_write(h, MCH_HOST_BRIDGE_ESMRAMC, MCH_HOST_BRIDGE_ESMRAMC_TSEG_SZ_1MB |
              MCH_HOST_BRIDGE_ESMRAMC_T_EN);
    smram_write(h, MCH_HOST_BRIDGE_SMRAM_D_LCK, 0);
    reg_write(h, MCH_HOST_BRIDGE_ESMRAMC, MCH_HOST_BRIDGE_ESMRAMC_TSEG_SZ_1MB);
    g_assert_cmphex(reg_read(h, MCH_HOST_BRIDGE_ESMRAMC) &
                    MCH_HOST_BRIDGE_ESMRAMC_T_EN, ==,
                    MCH_HOST_BRIDGE_ESMRAMC_T_EN);
    assert_blackholed(h, TSEG_ADDR, TSEG_SIZE, 0x43);

    host_reset(h);
    assert_pattern(h, TSEG_ADDR, TSEG_SIZE, 0x41);
    host_stop(h);
}

int main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/q35-smram/smbase/register/before-query",
                   test_smbase_register_before_query);
    qtest_add_func("/q35-smram/smbase/register/after-query",
                   test_smbase_register_after_query);
    qtest_add_func("/q35-smram/smbase/register/wide-writes",
                   test_smbase_register_wide_writes);
    qtest_add_func("/q35-smram/smbase/isolation-and-reset",
                   test_smbase_isolation_and_reset);
    qtest_add_func("/q35-smram/smbase/compat/pc-q35-5.0-has-window",
                   test_smbase_compat_first_with_feature);
    qtest_add_data_func("/q35-smram/smbase/migration/lock-survives",
                        GINT_TO_POINTER(true),
                        test_smbase_state_survives_migration);
    qtest_add_data_func("/q35-smram/smbase/migration/query-survives",
                        GINT_TO_POINTER(false),
                        test_smbase_state_survives_migration);
    for (i = 0; i < ARRAY_SIZE(smbase_stream_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/q35-smram/smbase/migration/undefined-value/%s",
                            smbase_stream_cases[i].name);

        qtest_add_data_func(path, &smbase_stream_cases[i],
                            test_smbase_undefined_value_in_stream);
    }
    qtest_add_func("/q35-smram/legacy/isolation", test_legacy_smram_isolation);
    qtest_add_func("/q35-smram/tseg/isolation", test_tseg_isolation);
    return g_test_run();
}
