/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest of the ICH9 SMI block as firmware sees it: the APM ports and the
 * etc/smi fw_cfg feature files.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"

#define APM_CNT_PORT 0xb2
#define APM_STS_PORT 0xb3

#define SMI_F_BROADCAST     (1ULL << 0)
#define SMI_F_CPU_HOTPLUG   (1ULL << 1)
#define SMI_F_CPU_HOTUNPLUG (1ULL << 2)

/* APM_STS is a scratch byte firmware uses to pass an argument to SMM. */
static void test_apm_sts_scratch_byte(void)
{
    QTestState *qts = qtest_init("-machine q35");
    unsigned v;

    g_assert_cmpuint(qtest_inb(qts, APM_STS_PORT), ==, 0);
    for (v = 0; v <= 0xff; v++) {
        qtest_outb(qts, APM_STS_PORT, v);
        g_assert_cmpuint(qtest_inb(qts, APM_STS_PORT), ==, v);
    }
    qtest_quit(qts);
}

typedef struct SupportedFeaturesCase {
    const char *machine;
    uint64_t features;   /* 0: the file does not exist */
} SupportedFeaturesCase;

static const SupportedFeaturesCase supported_features_cases[] = {
    { "q35", SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG | SMI_F_CPU_HOTUNPLUG },
    { "pc-q35-7.2", SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG | SMI_F_CPU_HOTUNPLUG },
    { "pc-q35-6.0", SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG | SMI_F_CPU_HOTUNPLUG },
    { "pc-q35-5.2", SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG },
    { "pc-q35-5.1", SMI_F_BROADCAST },
    { "pc-q35-2.9", SMI_F_BROADCAST },
    { "pc-q35-2.8", 0 },
};

/*
 * etc/smi/supported-features is 8 bytes, little endian; a machine type
 * without any SMI feature does not offer the negotiation files at all.
 */
static void test_supported_features(const void *opaque)
{
    const SupportedFeaturesCase *c = opaque;
    QTestState *qts = qtest_initf("-machine %s", c->machine);
    QFWCFG *fw_cfg = pc_fw_cfg_init(qts);
    uint8_t le[8] = { 0 };
    size_t size;

    size = qfw_cfg_get_file(fw_cfg, "etc/smi/supported-features",
                            le, sizeof(le));
    if (c->features) {
        g_assert_cmpuint(size, ==, sizeof(le));
        g_assert_cmphex(ldq_le_p(le), ==, c->features);
    } else {
        g_assert_cmpuint(size, ==, 0);
        g_assert_cmpuint(qfw_cfg_get_file(fw_cfg, "etc/smi/features-ok",
                                          le, 1), ==, 0);
    }
    pc_fw_cfg_uninit(fw_cfg);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/ich9-smi/apm-sts/scratch-byte",
                   test_apm_sts_scratch_byte);
    for (i = 0; i < ARRAY_SIZE(supported_features_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/ich9-smi/fw-cfg/supported-features/%s",
                            supported_features_cases[i].machine);
        qtest_add_data_func(path, &supported_features_cases[i],
                            test_supported_features);
    }
    return g_test_run();
}
