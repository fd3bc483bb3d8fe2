/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest of the ICH9 SMI block across migration: the negotiated features,
 * SMI_EN/SMI_STS and the APM bytes arrive and still act; the SMI timers
 * run on; a destination refuses a negotiation it could not have reached
 * and normalises what the model never sets.  Sources and destinations
 * are libqtest instances, migrated with the helpers of
 * tests/qtest/migration/ over a UNIX socket or through a file.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"
#include "ich9-smi-common.h"

/* The SMI_STS bits this model sets on q35 with x-smi-sts-apm=on */
#define SMI_STS_IMPLEMENTED (ICH9_PMIO_SMI_STS_APM_STS | \
                             ICH9_PMIO_SMI_STS_SWSMI_STS | \
                             ICH9_PMIO_SMI_STS_PERIODIC_STS)

#define SRC_ARGS \
    "-machine q35 -nodefaults -global ICH9-LPC.x-smi-sts-apm=on"

/* Negotiated state, SMI_EN and SMI_STS survive migration */
static void test_migration_keeps_smi_state(void)
{
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migsock", tmp);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Machine *src = machine_start(qtest_init("-machine q35 -smp 2 -global "
                                            "ICH9-LPC.x-smi-sts-apm=on"));
    Machine *dst;

    dst = machine_start(qtest_initf("-machine q35 -smp 2 -global "
                                    "ICH9-LPC.x-smi-sts-apm=on -incoming %s",
                                    uri));
    negotiate(src, SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    set_smi_en(src, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(src->qts, ICH9_APM_CNT_IOPORT, 0x42);
    qtest_outb(src->qts, ICH9_APM_STS_IOPORT, 0x5a);

    migrate_qmp(src->qts, NULL, uri, NULL, "{}");
    wait_for_migration_complete(src->qts);
    qtest_qmp_eventwait(dst->qts, "RESUME");

    g_assert_cmphex(lpc_prop(dst, "x-smi-negotiated-features"), ==,
                    SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    g_assert_cmpuint(features_ok_by_io(dst), ==, 1);
    g_assert_cmphex(read_requested_features(dst), ==,
                    SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_EN), ==,
                    ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_APM_STS);
    g_assert_cmpuint(qtest_inb(dst->qts, ICH9_APM_CNT_IOPORT), ==, 0x42);
    g_assert_cmpuint(qtest_inb(dst->qts, ICH9_APM_STS_IOPORT), ==, 0x5a);
    /* still locked, still broadcasting on the destination */
    request_features(dst, 0);
    g_assert_cmpuint(features_ok_by_io(dst), ==, 1);
    qtest_outb(dst->qts, ICH9_APM_CNT_IOPORT, 0x43);
    g_assert_cmpuint(smi_count(dst, 1, "x-smi-injected-apm-broadcast"),
                     ==, 1);

    machine_stop(src);
    machine_stop(dst);
    unlink(sock);
    rmdir(tmp);
}

/*
 * Across migration the periodic timer keeps its deadline (it follows the
 * migrated virtual clock) and the software SMI timer runs again, from a
 * full period: the stream, upstream's, has no deadline for it.
 */
static void test_timer_migration(void)
{
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migsock", tmp);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Machine *src = machine_start(qtest_init("-machine q35"));
    Machine *dst;
    int64_t periodic;

    dst = machine_start(qtest_initf("-machine q35 -incoming %s", uri));
    qpci_config_writew(src->lpc, ICH9_LPC_GEN_PMCON_1, 3);       /* 8 s */
    set_smi_en(src, ICH9_PMIO_SMI_EN_GBL_SMI_EN |
                    ICH9_PMIO_SMI_EN_SWSMI_EN |
                    ICH9_PMIO_SMI_EN_PERIODIC_EN);
    periodic = timer_deadline(src, "periodic-timer-deadline");

    migrate_qmp(src->qts, NULL, uri, NULL, "{}");
    wait_for_migration_complete(src->qts);
    qtest_qmp_eventwait(dst->qts, "RESUME");

    g_assert_cmpint(timer_deadline(dst, "periodic-timer-deadline"), ==,
                    periodic);
    g_assert_cmpint(timer_deadline(dst, "swsmi-timer-deadline"), ==,
                    clock_now(dst) - 1 + 1500000);
    qtest_clock_step(dst->qts, periodic - clock_now(dst));
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_SWSMI_STS |
                    ICH9_PMIO_SMI_STS_PERIODIC_STS);
    g_assert_cmpuint(timer_smis(dst, 0), >, 1);

    machine_stop(src);
    machine_stop(dst);
    unlink(sock);
    rmdir(tmp);
}

/*
 * Streams changed on their way: saved to a file, edited, loaded.
 *
 * The states these tests load cannot be made on this QEMU by any means
 * libqtest has: the source validates the negotiation as it happens and
 * clears SMI_STS bits it never sets, the QOM properties are read-only
 * (/ich9-smi/accounting/properties-read-only), and a qtest source of
 * another binary (QTEST_QEMU_BINARY_SRC, upstream 7.2 keeps a late
 * request) would need that binary at qtest time.  So the file a
 * migration to "file:" wrote is edited at the ICH9LPC/smi_feat
 * subsection or at SMI_EN/SMI_STS, found by content, and loaded with
 * migrate-incoming "file:".
 */

/* The state of @m, written to @path by a migration to a file */
static void save_state(Machine *m, const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);

    migrate_qmp(m->qts, NULL, uri, NULL, "{}");
    wait_for_migration_complete(m->qts);
}

/* The bytes after @marker in the stream, which has it exactly once */
static uint8_t *stream_find(uint8_t *data, size_t len, const void *marker,
                            size_t marker_len, size_t field_len)
{
    uint8_t *p = memmem(data, len, marker, marker_len);
    size_t rest;

    g_assert_nonnull(p);
    rest = len - (p - data) - 1;
    g_assert_null(memmem(p + 1, rest, marker, marker_len));
    p += marker_len;
    g_assert(p + field_len <= data + len);
    return p;
}

typedef struct NegotiationStream {
    const char *name;
    const char *dst_args;       /* NULL: the source's */
    uint64_t requested;
    uint8_t features_ok;
    uint64_t negotiated;
    const char *error;          /* NULL: the destination takes it */
} NegotiationStream;

/*
 * The ICH9LPC/smi_feat subsection: QEMU_VM_SUBSECTION, the name's length
 * and the name, its version, then requested-features (8 bytes LE),
 * features-ok, the negotiated set (be64).
 */
static void stream_set_negotiation(const char *path,
                                   const NegotiationStream *n)
{
    static const char marker[] = "\x05\x10" "ICH9LPC/smi_feat";
    g_autofree char *text = NULL;
    gsize len;
    uint8_t *p;

    g_assert(g_file_get_contents(path, &text, &len, NULL));
    p = stream_find((uint8_t *)text, len, marker, sizeof(marker) - 1,
                    4 + 8 + 1 + 8);
    p += 4;
    stq_le_p(p, n->requested);
    p[8] = n->features_ok;
    stq_be_p(p + 9, n->negotiated);
    g_assert(g_file_set_contents(path, text, len, NULL));
}

/* A new destination with @args loads @path; the caller waits for it */
static QTestState *load_state(const char *args, const char *path,
                              const char *stderr_path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    QTestState *qts;

    /*
     * QEMU's stderr goes to @stderr_path, redirected on the command line
     * as tests/qtest/migration/framework.c hides it: libqtest runs QEMU
     * through the shell.
     */
    qts = qtest_initf("%s -incoming defer 2>%s", args,
                      stderr_path ?: "/dev/null");
    migrate_incoming_qmp(qts, uri, NULL, "{ 'exit-on-error': false }");
    return qts;
}

/*
 * A new QEMU with @args refuses to load @path, saying @error.  With
 * exit-on-error off it stays up and its migration fails; had it taken
 * the stream, the migration would complete, which fails the test.
 */
static void assert_load_refused(const char *args, const char *path,
                                const char *error)
{
    g_autofree char *err_path = g_strdup_printf("%s.stderr", path);
    g_autofree char *err = NULL;
    QTestState *dst = load_state(args, path, err_path);

    wait_for_migration_status(dst, "failed",
                              (const char * []) { "completed", NULL });
    qtest_quit(dst);
    g_assert(g_file_get_contents(err_path, &err, NULL, NULL));
    unlink(err_path);
    if (!strstr(err, error)) {
        g_test_message("destination said: %s", err);
        g_assert_nonnull(strstr(err, error));
    }
}

static const NegotiationStream invalid_negotiation_streams[] = {
    { "features-ok-2", NULL, SMI_F_BROADCAST, 2, SMI_F_BROADCAST,
      "ICH9 SMI: incoming features-ok 2 is not 0 or 1" },
    { "negotiated-without-features-ok", NULL, SMI_F_BROADCAST, 0,
      SMI_F_BROADCAST, "ICH9 SMI: incoming negotiated features 0x1 without "
      "features-ok" },
    { "unknown-bit", NULL, SMI_F_ALL | (1ULL << 3), 1,
      SMI_F_ALL | (1ULL << 3), "unknown feature bits requested" },
    { "hotplug-without-broadcast", NULL, SMI_F_CPU_HOTPLUG, 1,
      SMI_F_CPU_HOTPLUG, "requires SMI broadcast" },
    /* the source's stream as it is, into a host that offers less */
    { "not-offered-here", SRC_ARGS " -global ICH9-LPC.x-smi-cpu-hotunplug=off",
      SMI_F_ALL, 1, SMI_F_ALL, "ICH9 SMI: incoming negotiated features 0x7 "
      "invalid here (host offers 0x3): a requested feature is not offered "
      "by the host" },
};

/*
 * A stream whose negotiation this destination could not have reached is
 * refused: the destination fails the migration (and the source, which
 * would keep running, is not involved here).
 */
static void test_migration_refuses_invalid_negotiation(void)
{
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *saved = g_strdup_printf("%s/saved", tmp);
    g_autofree char *text = NULL;
    Machine *src = machine_start(qtest_init(SRC_ARGS));
    gsize len;
    size_t i;

    negotiate(src, SMI_F_ALL);
    save_state(src, saved);
    machine_stop(src);
    g_assert(g_file_get_contents(saved, &text, &len, NULL));

    for (i = 0; i < ARRAY_SIZE(invalid_negotiation_streams); i++) {
        const NegotiationStream *n = &invalid_negotiation_streams[i];
        g_autofree char *path = g_strdup_printf("%s/%s", tmp, n->name);

        g_test_message("stream %s", n->name);
        g_assert(g_file_set_contents(path, text, len, NULL));
        if (!n->dst_args) {
            stream_set_negotiation(path, n);
        }
        assert_load_refused(n->dst_args ?: SRC_ARGS, path, n->error);
        unlink(path);
    }
    unlink(saved);
    rmdir(tmp);
}

/*
 * What the destination fixes as it loads: requested-features that changed
 * after the negotiation (upstream 7.2 keeps such a write) shows the
 * negotiated set again, and SMI_STS bits this model never sets read 0.
 */
static void test_migration_normalizes_on_load(void)
{
    static const NegotiationStream late_request = {
        "late-request", NULL, SMI_F_ALL, 1,
        SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG, NULL
    };
    /* SMI_EN (unusual, to find it) then SMI_STS, in ich9_pm */
    const uint32_t smi_en = 0x5ac38400 | ICH9_PMIO_SMI_EN_GBL_SMI_EN |
                            ICH9_PMIO_SMI_EN_APMC_EN;
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *path = g_strdup_printf("%s/state", tmp);
    g_autofree char *text = NULL;
    Machine *src = machine_start(qtest_init(SRC_ARGS));
    QTestState *dst_qts;
    Machine *dst;
    uint8_t marker[8];
    uint8_t *p;
    gsize len;

    negotiate(src, late_request.negotiated);
    set_smi_en(src, smi_en);
    qtest_outb(src->qts, ICH9_APM_CNT_IOPORT, 0x42);
    g_assert_cmphex(qtest_inl(src->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_APM_STS);
    save_state(src, path);
    machine_stop(src);

    stream_set_negotiation(path, &late_request);
    g_assert(g_file_get_contents(path, &text, &len, NULL));
    stl_be_p(marker, smi_en);
    stl_be_p(marker + 4, ICH9_PMIO_SMI_STS_APM_STS);
    p = stream_find((uint8_t *)text, len, marker, sizeof(marker), 0);
    stl_be_p(p - 4, UINT32_MAX);
    g_assert(g_file_set_contents(path, text, len, NULL));

    dst_qts = load_state(SRC_ARGS, path, NULL);
    qtest_qmp_eventwait(dst_qts, "RESUME");
    dst = machine_start(dst_qts);

    g_assert_cmphex(read_requested_features(dst), ==,
                    late_request.negotiated);
    g_assert_cmphex(lpc_prop(dst, "x-smi-requested-features"), ==,
                    late_request.negotiated);
    g_assert_cmphex(lpc_prop(dst, "x-smi-negotiated-features"), ==,
                    late_request.negotiated);
    g_assert_cmpuint(features_ok_by_io(dst), ==, 1);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_EN), ==, smi_en);
    /* the bits this model sets on this machine type: APM and the timers */
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==, SMI_STS_IMPLEMENTED);
    g_assert_cmphex(lpc_prop(dst, "x-smi-sts"), ==, SMI_STS_IMPLEMENTED);
    qtest_outl(dst->qts, SMI_STS, SMI_STS_IMPLEMENTED);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==, 0);
    machine_stop(dst);
    unlink(path);
    rmdir(tmp);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/ich9-smi/migration/keeps-smi-state",
                   test_migration_keeps_smi_state);
    qtest_add_func("/ich9-smi/migration/refuses-invalid-negotiation",
                   test_migration_refuses_invalid_negotiation);
    qtest_add_func("/ich9-smi/migration/normalizes-on-load",
                   test_migration_normalizes_on_load);
    qtest_add_func("/ich9-smi/timer/migration", test_timer_migration);
    return g_test_run();
}
