# SPDX-License-Identifier: GPL-2.0-or-later
#
# Section inject: one broadcast APM SMI into N stopped vCPUs, under qtest,
# with SMI broadcast negotiated through fw_cfg as firmware does.
#
# Copyright (c) 2026 The Q35 SMM fork authors

import struct
import time

from smibench.common import BINARIES, BenchError, log, rotate
from smibench.linux import smi_counts
import forkvm

# qtest: ports and guest RAM for the fw_cfg DMA negotiation
FW_CFG_CTL, FW_CFG_DATA, FW_CFG_DMA = 0x510, 0x511, 0x514
FW_CFG_FILE_DIR = 0x19
DMA_READ, DMA_SELECT, DMA_WRITE = 0x02, 0x08, 0x10
DMA_DESC, DMA_BUF = 0x100000, 0x101000
LPC_DEVFN, PMBASE = 0x1f << 3, 0x600
SMI_EN, SMI_EN_GBL_APMC = PMBASE + 0x30, 0x21
APM_CNT, NOP_PORT = 0xb2, 0x80      # 0x80: the POST port, writes ignored
INJECT_REPS = 5


class Qtest:
    """A stopped q35 with a qtest socket, SMI broadcast negotiated."""

    def __init__(self, opts, binary, vcpus):
        self.binary = binary
        self.vm = forkvm.VM(['-machine', 'q35,smm=on', '-accel', opts.accel,
                             '-S', '-smp', str(vcpus), '-m', '256'],
                            qemu=BINARIES[binary], firmware='seabios',
                            name='bench-qtest', qtest=True)

    def __enter__(self):
        self.vm.launch(timeout=120)
        q = self.vm.qtest
        # PMBASE with ACPI decoding on, then GBL_SMI_EN | APMC_EN
        q('outl 0xcf8 0x%x' % (0x80000000 | LPC_DEVFN << 8 | 0x40))
        q('outl 0xcfc 0x%x' % (PMBASE | 1))
        q('outl 0xcf8 0x%x' % (0x80000000 | LPC_DEVFN << 8 | 0x44))
        q('outb 0xcfc 0x80')
        q('outl 0x%x 0x%x' % (SMI_EN, SMI_EN_GBL_APMC))
        if self.vm.inl(SMI_EN) != SMI_EN_GBL_APMC:
            raise BenchError('%s: SMI_EN did not take 0x21' % self.binary)
        self.negotiate_broadcast()
        return self

    def __exit__(self, *exc):
        self.vm.shutdown()

    def dma(self, control, length):
        """One fw_cfg DMA transfer from/to DMA_BUF; must succeed."""
        desc = struct.pack('>IIQ', control, length, DMA_BUF)
        self.vm.qtest('write 0x%x %d 0x%s' % (DMA_DESC, len(desc),
                                              desc.hex()))
        # big-endian register: high half, then the low half starts it
        self.vm.qtest('outl 0x%x 0x0' % FW_CFG_DMA)
        swapped = struct.unpack('<I', struct.pack('>I', DMA_DESC))[0]
        self.vm.qtest('outl 0x%x 0x%x' % (FW_CFG_DMA + 4, swapped))
        ctl = int(self.vm.qtest('read 0x%x 4' % DMA_DESC)[0], 16)
        if ctl != 0:
            raise BenchError('%s: fw_cfg DMA 0x%x failed (0x%x)'
                             % (self.binary, control, ctl))

    def file_keys(self):
        self.dma(FW_CFG_FILE_DIR << 16 | DMA_SELECT | DMA_READ, 4096)
        data = bytes.fromhex(self.vm.qtest('read 0x%x 4096' % DMA_BUF)[0][2:])
        count = struct.unpack('>I', data[:4])[0]
        keys = {}
        for i in range(min(count, 63)):
            size, key, _, name = struct.unpack(
                '>IHH56s', data[4 + 64 * i:4 + 64 * (i + 1)])
            keys[name.rstrip(b'\0').decode()] = key
        return keys

    def negotiate_broadcast(self):
        keys = self.file_keys()
        if 'etc/smi/requested-features' not in keys:
            raise BenchError('%s: no etc/smi files in fw_cfg' % self.binary)
        self.vm.qtest('write 0x%x 8 0x%s' % (DMA_BUF,
                                             struct.pack('<Q', 1).hex()))
        self.dma(keys['etc/smi/requested-features'] << 16 | DMA_SELECT |
                 DMA_WRITE, 8)
        self.vm.qtest('outw 0x%x 0x%x' % (FW_CFG_CTL,
                                          keys['etc/smi/features-ok']))
        if self.vm.inb(FW_CFG_DATA) != 1:
            raise BenchError('%s: broadcast negotiation refused'
                             % self.binary)
        got = self.vm.qom_get(forkvm.LPC_PATH, 'x-smi-negotiated-features')
        if got != 1:
            raise BenchError('%s: negotiated 0x%x, not broadcast'
                             % (self.binary, got))

    def batch(self, line, k):
        """Seconds for k qtest commands, pipelined in chunks."""
        t = time.monotonic()
        try:
            self.vm.qtest_repeat(line, k)
        except forkvm.VMError as e:
            raise BenchError('%s: %s' % (self.binary, e))
        return time.monotonic() - t


def bench_inject(opts, res):
    for run in range(opts.runs):
        for vcpus in opts.inject_vcpus:
            for b in rotate(opts.binaries, run):
                with Qtest(opts, b, vcpus) as q:
                    before = smi_counts(q.vm) if b == 'fork' else None
                    # fewer writes where each costs more
                    k = max(200, opts.inject_k // max(1, vcpus // 8))
                    apm, nop = [], []
                    # alternate; the fastest of each is the least disturbed
                    for _ in range(INJECT_REPS):
                        apm.append(q.batch('outb 0x%x 0x0' % APM_CNT, k))
                        nop.append(q.batch('outb 0x%x 0x0' % NOP_PORT, k))
                    apm, nop = min(apm), min(nop)
                    if before:
                        after = smi_counts(q.vm)
                        d = [after[i]['apm-broadcast'] -
                             before[i]['apm-broadcast'] for i in after]
                        if len(d) != vcpus or set(d) != {k * INJECT_REPS}:
                            raise BenchError(
                                'inject: %d APM writes reached %s'
                                % (k * INJECT_REPS, d))
                us = (apm - nop) * 1e6 / k
                res.add('inject', 'broadcast SMI injection, %d vCPUs'
                        % vcpus, 'us', b, us, vcpus=vcpus)
                log('==> inject: %s, %d vCPUs: %.2f us per broadcast SMI '
                    '(%d writes, %.0f us per no-op write)'
                    % (b, vcpus, us, k, nop * 1e6 / k))
    for row in res.rows:
        if row['section'] == 'inject':
            row['notes'].append('fork: every write counted as a broadcast '
                                'on every vCPU (x-query-smi)')
            break
