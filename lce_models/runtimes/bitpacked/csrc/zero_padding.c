/* Zero padding's correction (LCE's zero_padding_correction), as a table made once a call. */
#include "bconv.h"

/* Zero padding: a pixel's outside taps depend only on its border class, (cy, cx) with bit 0 of
 * each set on the first row (column) and bit 1 on the last; corrections[(4 * cy + cx) * o_pad +
 * oc] (zero past o) is what their +1 border words added to output channel oc's dot product, the sum of those
 * taps' signs (LCE's correction). Made once a call: a 9-tap loop per border pixel and output
 * channel took 40 % of a 64 -> 64 conv at 180x320. */
void zero_pad_table(int64_t *corrections, const int64_t *weight_ones, int64_t o, int64_t o_pad) {
    for (int64_t cls = 0; cls < 16; cls++)
        for (int64_t oc = 0; oc < o_pad; oc++) {
            int64_t total = 0;
            for (int64_t t = 0; t < 9; t++) {
                const int64_t dy = t / 3 - 1, dx = t % 3 - 1, cy = cls / 4, cx = cls % 4;
                if (oc < o && ((dy < 0 && cy & 1) || (dy > 0 && cy & 2) || (dx < 0 && cx & 1) || (dx > 0 && cx & 2)))
                    total += weight_ones[t * o + oc];
            }
            corrections[cls * o_pad + oc] = total;
        }
}
