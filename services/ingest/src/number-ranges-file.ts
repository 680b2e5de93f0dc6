import { loadDataFile } from '@tern/config';
import { NumberRanges } from '@tern/sms-domain';
import { z } from 'zod';

const numberRangesSchema = z.object({
  ranges: z.array(
    z.object({
      prefix: z.string().regex(/^\d{1,15}$/, 'digits after "+"'),
      mccMnc: z.string().regex(/^\d{5,6}$/, 'MCC+MNC, 5 or 6 digits'),
      name: z.string().min(1),
    }),
  ),
});

/** Number ranges to carriers, from a deployment's data file (or none: carriers stay unknown). */
export function loadNumberRanges(path: string | undefined): NumberRanges | undefined {
  return path ? new NumberRanges(loadDataFile(path, numberRangesSchema, 'number ranges').ranges) : undefined;
}
