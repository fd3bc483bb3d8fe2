# SPDX-License-Identifier: GPL-2.0-or-later
#
# Section boottax: what SMM costs a user at boot.  The same Linux guest is
# booted to its init by OVMF's SMM build (OVMF_CODE_4M.secboot.fd, secure
# pflash, q35,smm=on) and by its non-SMM build (OVMF_CODE_4M.fd,
# q35,smm=off); the tax is the ratio of the two times, per vCPU count and
# TCG threading.  With more vCPU threads than host cores, every SMI makes
# each vCPU spin in SMM until the others, not scheduled, arrive.
#
# Copyright (c) 2026 The Q35 SMM fork authors

from smibench.common import log, rotate
from smibench.linux import boot_linux

BUILDS = (('smm', dict()),
          ('nosmm', dict(firmware='ovmf-nosmm', machine='q35,smm=off')))


def boot_seconds(opts, binary, vcpus, accel, build):
    g, secs = boot_linux(opts, binary, vcpus, accel=accel, **build)
    g.shutdown()
    return secs


def bench_boottax(opts, res):
    for run in range(opts.runs):
        for tcg in opts.tax_tcg:
            accel = 'tcg,thread=%s' % tcg
            for vcpus in opts.tax_vcpus:
                for b in rotate(opts.binaries, run):
                    secs = {}
                    for kind, build in rotate(list(BUILDS), run):
                        secs[kind] = boot_seconds(opts, b, vcpus, accel,
                                                  build)
                    params = dict(vcpus=vcpus, tcg=tcg)
                    name = '%d vCPUs, TCG %s' % (vcpus, tcg)
                    res.add('boottax', 'SMM boot tax, ' + name, 'x', b,
                            secs['smm'] / secs['nosmm'], **params)
                    res.add('boottax', 'boot to init, SMM build, ' + name,
                            's', b, secs['smm'], **params)
                    res.add('boottax', 'boot to init, non-SMM, ' + name,
                            's', b, secs['nosmm'], **params)
                    log('==> boottax: %s, %s: SMM %.1f s, non-SMM %.1f s: '
                        '%.2fx' % (b, name, secs['smm'], secs['nosmm'],
                                   secs['smm'] / secs['nosmm']))
    res.note('boottax', 'OVMF 2022.11 SMM build (secure pflash) over its '
             'non-SMM build, time to the Linux guest\'s init; target 1.3x')
