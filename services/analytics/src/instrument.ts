import { instrument } from '@tern/service-kit/instrument';

instrument('analytics');
