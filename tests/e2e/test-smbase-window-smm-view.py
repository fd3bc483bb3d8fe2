#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, a guest of our own under TCG: the SMM side of the SMBASE
# window, which qtest cannot see.  smm-guest/smbase-window.s locks the
# window, enters SMM at the default SMBASE and reports over the debug
# console what SMM and non-SMM code read there; after a reset the RAM
# behind the window shows SMM's write and none of the non-SMM ones.
# check-timeout: 120

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402

from smm_guest import build_guest, reports  # noqa: E402


class SmbaseWindowSmmView(e2e.Test):
    def test_smm_sees_ram_others_do_not(self):
        with tempfile.TemporaryDirectory() as tmp:
            img = build_guest(tmp)
            out = os.path.join(tmp, 'debugcon.out')
            vm = forkvm.VM(['-machine', 'q35,smm=on', '-accel', 'tcg',
                            '-debugcon', 'file:%s' % out,
                            '-global', 'isa-debugcon.iobase=0x402'],
                           firmware=img, name='smbase', qtest=True)
            raw = b''

            def done():
                nonlocal raw
                with open(out, 'rb') as f:
                    raw = f.read()
                return b'D\x00' in raw
            self.diag.append(lambda: 'guest reports: %r' % reports(raw))
            try:
                vm.launch()
                vm.wait_for('the guest to finish', done, 60)
                assert reports(raw) == [
                    ('Q', 0x01),    # query answered: can be SMRAM
                    ('L', 0x02),    # locked
                    ('P', 0xff),    # outside SMM: all-ones
                    ('S', 0x5a),    # SMM: the RAM, with the pre-lock pattern
                    ('O', 0xff),    # outside SMM again: all-ones ...
                    ('o', 0xff),    # ... also where SMM just wrote
                    ('D', 0x00),
                ], reports(raw)
                cpu = vm.cmd('x-query-smi')['cpus'][0]
                assert cpu['smm-entries'] == 1, cpu
                assert cpu['apm-unicast'] == 1, cpu

                # the RAM behind the window: SMM's mark, no non-SMM write
                vm.cmd('stop')
                vm.cmd('system_reset')
                mem = [int(vm.qtest('readb 0x%x' % a)[0], 16)
                       for a in (0x30000, 0x30001, 0x30002)]
                assert mem == [0x5a, 0xa5, 0x33], [hex(m) for m in mem]
            finally:
                vm.shutdown()


if __name__ == '__main__':
    e2e.main()
