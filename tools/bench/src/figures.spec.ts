import {
  batchesPerMessage,
  brokerCostFit,
  byApi,
  byService,
  codeOf,
  comparisonTable,
  countedPerMessage,
  cpuShares,
  cpuTicksOfStat,
  firstIdMintedAt,
  gcMsPerMessage,
  groupHistogram,
  isJitCompilerThread,
  latencyWindows,
  niceOfStat,
  nicedList,
  oomKillsOf,
  parseBackground,
  parseMix,
  peakResidentMibOfStatus,
  podCgroupDir,
  percentiles,
  processCpuTicksOfStat,
  profileAllocation,
  profileTime,
  redisCommandsPerMessage,
  redisMemoryPerMessage,
  saturated,
  subscriberNumber,
  sustainedRate,
  sustainedRateOfCounts,
  threadTicksBetween,
} from './figures';

describe('benchmark figures', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, unsorted
    expect(percentiles(values)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(percentiles([7])).toEqual({ count: 1, p50: 7, p95: 7, p99: 7, max: 7 });
    expect(percentiles([])).toEqual({
      count: 0,
      p50: undefined,
      p95: undefined,
      p99: undefined,
      max: undefined,
    });
  });

  it('measures a sustained rate without the ramps at either end', () => {
    // 1,000 events 1 ms apart (1,000/s), then a straggler 10 s later.
    const times = [...Array.from({ length: 1000 }, (_, i) => i), 10_999];
    expect(sustainedRate(times)).toBeCloseTo(1000, 0);
    // Taken whole, the straggler would make it about 91/s.
    expect(sustainedRate(times, 1)).toBeCloseTo(1000_000 / 10_999, 0);
    expect(sustainedRate([5])).toBeUndefined();
  });

  it('calls a run saturated only when every stretch was told and at least 95% busy', () => {
    expect(saturated([{ busy: 0.99 }, { busy: 0.95 }])).toBe(true);
    expect(saturated([{ busy: 0.99 }, { busy: 0.94 }])).toBe(false);
    // A stretch without a sample of the machine tells nothing: not saturated on its word.
    expect(saturated([{ busy: 0.99 }, { busy: undefined }])).toBe(false);
    expect(saturated([])).toBe(false);
  });

  it('counts the batches each group fetched per message between two scrapes of the services', () => {
    const scrape = (status: number, skipped: number) =>
      [
        '# TYPE tern_kafka_batch_size histogram',
        `tern_kafka_batch_size_bucket{le="1",service="ingest",topic="sms.status",group="status-view"} ${status}`,
        `tern_kafka_batch_size_count{service="ingest",topic="sms.status",group="status-view"} ${status}`,
        `tern_kafka_batch_size_count{service="risk",topic="sms.accepted",group="screen-bulk"} ${skipped}`,
        `tern_kafka_batch_size_count{service="risk",topic="sms.accepted",group="screen"} 7`,
        'tern_kafka_consumed_total{topic="sms.accepted",group="screen",outcome="ok"} 7',
      ].join('\n');
    // Two scrapes of ingest's and risk's /metrics, joined; the screen group fetched nothing in between.
    expect(batchesPerMessage(scrape(100, 40), scrape(400, 60), 100)).toEqual({
      'status-view sms.status': 3,
      'screen-bulk sms.accepted': 0.2,
    });
    // A group that first shows up after the run started counts from zero.
    expect(batchesPerMessage('', scrape(10, 0), 10)).toEqual({
      'status-view sms.status': 1,
      'screen sms.accepted': 0.7,
    });
  });

  it('counts the Kafka requests per message and API between two scrapes, summed over the processes', () => {
    const scrape = (fetches: number, commits: number) =>
      [
        '# TYPE tern_kafka_requests_total counter',
        `tern_kafka_requests_total{api="Fetch",service="dlr"} ${fetches}`,
        `tern_kafka_requests_total{api="Fetch",service="risk"} ${fetches}`,
        `tern_kafka_requests_total{api="OffsetCommit",service="dlr"} ${commits}`,
        'tern_kafka_requests_total{api="Heartbeat",service="dlr"} 9',
      ].join('\n');
    expect(countedPerMessage('tern_kafka_requests_total', scrape(10, 5), scrape(60, 25), 200, byApi)).toEqual(
      {
        Fetch: 0.5,
        OffsetCommit: 0.1,
      },
    );
  });

  it("fits the broker's CPU a request and a record to phases of writes", () => {
    // 200 µs a request and 5 µs a record over an idle 300 ms, exactly.
    const phase = (requests: number, records: number) => ({
      requests,
      records,
      cpuMs: 300 + requests * 0.2 + records * 0.005,
    });
    const fit = brokerCostFit(300, [phase(6000, 6000), phase(6000, 60_000), phase(600, 60_000)]);
    expect(fit.perRequestUs).toBeCloseTo(200, 6);
    expect(fit.perRecordUs).toBeCloseTo(5, 6);
    expect(() => brokerCostFit(0, [phase(10, 100), phase(20, 200)])).toThrow('differ');
  });

  it("counts Redis's commands a message between two readings of INFO commandstats", () => {
    const info = (evalsha: number, set: number, extra = '') =>
      [
        '# Commandstats',
        `cmdstat_evalsha:calls=${evalsha},usec=900,usec_per_call=90.00,rejected_calls=0,failed_calls=0`,
        `cmdstat_set:calls=${set},usec=40,usec_per_call=2.00,rejected_calls=0,failed_calls=0`,
        'cmdstat_config|get:calls=3,usec=9,usec_per_call=3.00,rejected_calls=0,failed_calls=0',
        extra,
      ].join('\r\n');
    const hget = 'cmdstat_hget:calls=50,usec=60,usec_per_call=1.20,rejected_calls=0,failed_calls=0';
    // 10 script calls and 30 SETs over 10 messages; HGET first seen after the start; CONFIG GET unchanged.
    expect(redisCommandsPerMessage(info(5, 20), info(15, 50, hget), 10)).toEqual({
      commands: 9,
      scriptCalls: 1,
      byCommand: { hget: 5, set: 3, evalsha: 1 },
    });
  });

  it("measures Redis's memory a message from two readings of INFO memory and stats", () => {
    const info = (used: number, expired: number) =>
      [
        '# Memory',
        `used_memory:${used}`,
        'used_memory_human:1.00M',
        '# Stats',
        `expired_keys:${expired}`,
      ].join('\r\n');
    expect(redisMemoryPerMessage(info(1_000_000, 7), info(4_500_000, 9), 1000)).toEqual({
      bytes: 3500,
      expiredKeys: 2,
    });
    expect(redisMemoryPerMessage('', info(4_500_000, 9), 1000)).toBeUndefined();
    expect(redisMemoryPerMessage(info(1, 0), info(2, 0), 0)).toBeUndefined();
  });

  it('measures a sustained rate from polled running counts', () => {
    // 100 rows a second for 10 s, then nothing new for 20 s of polls.
    const polls = Array.from({ length: 31 }, (_, s) => ({ at: s * 1000, count: Math.min(1000, s * 100) }));
    expect(sustainedRateOfCounts(polls)).toBeCloseTo(100, 0);
    expect(sustainedRateOfCounts([{ at: 0, count: 0 }])).toBeUndefined();
  });

  it("reads how busy the machine's CPUs were, and how much the hypervisor stole, from two /proc/stat lines", () => {
    const before = 'cpu  1000 50 300 5000 100 10 40 0 700 0';
    // 200 ticks: 90 user, 10 nice, 40 system, 20 idle, 10 iowait, 5 irq, 5 softirq, 20 steal (guest in user).
    const after = 'cpu  1090 60 340 5020 110 15 45 20 760 0';
    expect(cpuShares(before, after)).toEqual({ busy: 150 / 200, steal: 20 / 200 });
    expect(cpuShares(before, before)).toBeUndefined();
  });

  it('cuts a run into stretches, each with its latencies and how the machine was', () => {
    const latencies = [
      { acceptedAt: 1000, ms: 10 },
      { acceptedAt: 2000, ms: 30 },
      { acceptedAt: 6000, ms: 400 },
      { acceptedAt: 11_000, ms: 1 }, // after the run: not in any stretch
    ];
    const sample = (at: number, busy: number, redisChild = false) => ({ at, busy, steal: 0.1, redisChild });
    const windows = latencyWindows(
      latencies,
      [sample(1500, 0.8), sample(2500, 0.9), sample(6500, 1, true)],
      1000,
      11_000,
      5000,
    );
    expect(windows).toEqual([
      {
        fromSeconds: 0,
        accepted: 2,
        p50: 10,
        p99: 30,
        busy: expect.closeTo(0.85),
        steal: 0.1,
        redisChild: false,
      },
      { fromSeconds: 5, accepted: 1, p50: 400, p99: 400, busy: 1, steal: 0.1, redisChild: true },
    ]);
    expect(latencyWindows([], [], 0, 7000, 5000)).toEqual([
      {
        fromSeconds: 0,
        accepted: 0,
        p50: undefined,
        p99: undefined,
        busy: undefined,
        steal: undefined,
        redisChild: false,
      },
    ]);
  });

  it("tells a profile's frames by package: npm's, the repository's, Node's, V8's", () => {
    const pnpm = 'file:///repo/node_modules/.pnpm';
    expect(
      codeOf(`${pnpm}/kafkajs@2.2.4_patch_hash=d6/node_modules/kafkajs/src/consumer/batch.js`, 'x'),
    ).toBe('kafkajs');
    expect(
      codeOf(`${pnpm}/@bufbuild+protobuf@2.17.0/node_modules/@bufbuild/protobuf/dist/cjs/a.js`, 'x'),
    ).toBe('@bufbuild/protobuf');
    expect(codeOf('file:///repo/services/dlr/dist/receipt-correlator.js', 'report')).toBe('services/dlr');
    expect(codeOf('file:///repo/libs/kafka/dist/consumer.js', 'x')).toBe('libs/kafka');
    expect(codeOf('file:///repo/proto/dist/gen/tern/sms/v1/sms.js', 'decode')).toBe('proto');
    expect(codeOf('node:internal/streams/writable', 'x')).toBe('node:internal');
    expect(codeOf('', '(garbage collector)')).toBe('(garbage collector)');
  });

  it("sums a profile's self time by key, idle left out, largest first, and names its process", () => {
    const frame = (functionName: string, url: string) => ({
      functionName,
      url,
      scriptId: '0',
      lineNumber: 0,
      columnNumber: 0,
    });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), hitCount: 0 },
        { id: 2, callFrame: frame('(idle)', ''), hitCount: 50 },
        { id: 3, callFrame: frame('report', 'file:///repo/services/dlr/dist/a.js'), hitCount: 10 },
        { id: 4, callFrame: frame('flush', 'file:///repo/libs/kafka/dist/producer.js'), hitCount: 30 },
        { id: 5, callFrame: frame('apply', 'file:///repo/services/dlr/dist/b.js'), hitCount: 5 },
      ],
      samples: Array.from({ length: 95 }, () => 1),
      startTime: 0,
      endTime: 95_000, // µs: 1 ms a sample
    };
    expect(profileTime(profile, (f) => codeOf(f.url, f.functionName))).toEqual({
      process: 'dlr',
      total: 45,
      by: [
        ['libs/kafka', 30],
        ['services/dlr', 15],
      ],
    });
  });

  it('reads user + system ticks from /proc/PID/stat, whatever the process name holds, and with children', () => {
    const stat =
      '4242 (node (ingest) x) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 567 89 10 20 0 11 0 100 0 0';
    expect(cpuTicksOfStat(stat)).toBe(1234 + 567);
    expect(processCpuTicksOfStat(stat)).toBe(1234 + 567 + 89 + 10);
  });

  it("reads a process's peak resident memory from /proc/PID/status", () => {
    const status = ['Name:\tnode', 'VmPeak:\t 1183004 kB', 'VmHWM:\t  262144 kB', 'VmRSS:\t  200000 kB'];
    expect(peakResidentMibOfStatus(status.join('\n'))).toBe(256);
    expect(peakResidentMibOfStatus('Name:\tkthreadd\nState:\tS (sleeping)')).toBeUndefined();
  });

  it("finds a pod's memory cgroup of a process, v1 or v2, and none for a process elsewhere", () => {
    const v1 = ['12:pids:/tern-pod-dlr', '4:memory:/tern-pod-dlr', '1:name=systemd:/user.slice'].join('\n');
    expect(podCgroupDir(v1)).toEqual({ dir: '/sys/fs/cgroup/memory/tern-pod-dlr', v2: false });
    expect(podCgroupDir('9:cpu,memory:/tern-pod-router\n0::/')).toEqual({
      dir: '/sys/fs/cgroup/memory/tern-pod-router',
      v2: false,
    });
    expect(podCgroupDir('0::/tern-pod-ingest\n')).toEqual({
      dir: '/sys/fs/cgroup/tern-pod-ingest',
      v2: true,
    });
    expect(podCgroupDir('4:memory:/process_api/be62\n0::/')).toBeUndefined();
    expect(podCgroupDir('0::/system.slice/kafka.service')).toBeUndefined();
    expect(oomKillsOf('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n')).toBe(2);
    expect(oomKillsOf('low 0\nhigh 0\nmax 0\noom 0\noom_kill 0')).toBe(0);
  });

  it("takes each service's garbage collection a message, by kind, from the scrapes", () => {
    const scrape = (dlrMinor: number, dlrMajor: number) =>
      [
        '# TYPE nodejs_gc_duration_seconds histogram',
        `nodejs_gc_duration_seconds_sum{kind="minor",service="dlr"} ${dlrMinor}`,
        `nodejs_gc_duration_seconds_count{kind="minor",service="dlr"} 99`,
        `nodejs_gc_duration_seconds_sum{kind="major",service="dlr"} ${dlrMajor}`,
        'nodejs_gc_duration_seconds_sum{kind="minor",service="risk"} 1.5',
      ].join('\n');
    // 2 s of dlr's minor collections and 0.5 s of its major over 1,000 messages; risk collected nothing.
    expect(gcMsPerMessage(scrape(1, 0.25), scrape(3, 0.75), 1000)).toEqual({
      'dlr minor': 2,
      'dlr major': 0.5,
    });
  });

  it('reads the nice value from /proc/PID/stat, and lists the processes above 0', () => {
    const at = (nice: number) =>
      `4242 (node (dlr) x) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 567 0 0 ${20 + nice} ${nice} 11 0 100 0 0`;
    expect(niceOfStat(at(0))).toBe(0);
    expect(niceOfStat(at(10))).toBe(10);
    expect(niceOfStat(at(-5))).toBe(-5);
    expect(nicedList({ dlr: 10, clickhouse: 19 })).toBe('dlr 10, clickhouse 19');
    expect(nicedList({})).toBe('');
    expect(nicedList(undefined)).toBe('');
  });

  it("tells a JVM's JIT compiler threads from its others, as /proc cuts their names", () => {
    expect(isJitCompilerThread('C2 CompilerThre')).toBe(true);
    expect(isJitCompilerThread('C1 CompilerThre')).toBe(true);
    expect(isJitCompilerThread('data-plane-kafk')).toBe(false);
    expect(isJitCompilerThread('GC Thread#0')).toBe(false);
  });

  it('counts the ticks threads used between two samples, a new thread from zero, a gone one not at all', () => {
    const before = new Map([
      [10, 500],
      [11, 40],
    ]);
    // 10 went on (+30), 11 ended, 12 started and used 7.
    const after = new Map([
      [10, 530],
      [12, 7],
    ]);
    expect(threadTicksBetween(before, after)).toBe(37);
    expect(threadTicksBetween(new Map(), new Map())).toBe(0);
  });

  it("reads a group's or a process's histogram between two scrapes as the buckets its percentiles fall in", () => {
    const age = 'tern_kafka_record_age_seconds';
    const scrape = (counts: Record<string, number>) =>
      Object.entries(counts)
        .map(
          ([le, n]) =>
            `tern_kafka_record_age_seconds_bucket{le="${le}",topic="sms.accepted",group="risk",service="risk"} ${n}`,
        )
        .join('\n');
    // Before: 10 records, all within 1 ms. Between the scrapes: 100 more, 90 within 5 ms, 8 within 50 ms
    // and 2 within 1 s.
    const before = scrape({ '0.001': 10, '0.005': 10, '0.05': 10, '1': 10, '+Inf': 10 });
    const after = scrape({ '0.001': 10, '0.005': 100, '0.05': 108, '1': 110, '+Inf': 110 });
    expect(groupHistogram(age, before, after)).toEqual({
      'risk sms.accepted': { count: 100, p50: 5, p95: 50, p99: 1000 },
    });
    // A group new since the first scrape counts from zero; one with nothing new is left out.
    expect(groupHistogram(age, '', after)['risk sms.accepted']?.count).toBe(110);
    expect(groupHistogram(age, after, after)).toEqual({});
    expect(groupHistogram('tern_kafka_handle_seconds', before, after)).toEqual({});
    // A process's own histogram (produce requests), the processes apart.
    const requests = [
      'tern_kafka_produce_request_seconds_bucket{le="0.01",service="router"} 3',
      'tern_kafka_produce_request_seconds_bucket{le="+Inf",service="router"} 4',
      'tern_kafka_produce_request_seconds_bucket{le="0.01",service="risk"} 2',
      'tern_kafka_produce_request_seconds_bucket{le="+Inf",service="risk"} 2',
    ].join('\n');
    expect(groupHistogram('tern_kafka_produce_request_seconds', '', requests, byService)).toEqual({
      router: { count: 4, p50: 10, p95: Infinity, p99: Infinity },
      risk: { count: 2, p50: 10, p95: 10, p99: 10 },
    });
  });

  it('turns a mix into message kinds in proportion', () => {
    expect(parseMix('otp=1,marketing=3')).toEqual(['otp', 'marketing', 'marketing', 'marketing']);
    expect(parseMix('transactional')).toEqual(['transactional']);
    expect(() => parseMix('spam=1')).toThrow('unknown kind');
    expect(() => parseMix('otp=0')).toThrow('at least one');
  });

  it('reads a background backlog as a kind and a count', () => {
    expect(parseBackground('marketing=100000')).toEqual({ kind: 'marketing', count: 100_000 });
    expect(() => parseBackground('spam=10')).toThrow('--background: unknown kind');
    expect(() => parseBackground('marketing')).toThrow('count');
    expect(() => parseBackground('marketing=0')).toThrow('count');
  });

  it('gives every message of a run its own subscriber number', () => {
    const numbers = new Set(Array.from({ length: 100_000 }, (_, i) => subscriberNumber('659', 7, 1234, i)));
    expect(numbers.size).toBe(100_000);
    expect(subscriberNumber('659', 7, 1234, 0)).toBe('6590001234');
    // Within the first 9,000,000 only: +6599... is not assigned in Singapore.
    const inSpace = Array.from({ length: 100_000 }, (_, i) => subscriberNumber('659', 7, 8_999_000, i, 9e6));
    expect(new Set(inSpace).size).toBe(100_000);
    expect(inSpace.every((n) => !n.startsWith('6599'))).toBe(true);
  });

  it('bounds the message ids minted from a time, as UUIDv7 ids sort', () => {
    // An id ingest minted at 0x01a23861c577 ms (2026-12-02T20:11:01.367Z).
    const minted = '01a23861-c577-7249-9652-84a815788d91';
    expect(firstIdMintedAt(0x01a23861c577)).toBe('01a23861-c577');
    expect(minted >= firstIdMintedAt(0x01a23861c577)).toBe(true);
    expect(minted >= firstIdMintedAt(0x01a23861c578)).toBe(false);
    expect(firstIdMintedAt(0)).toBe('00000000-0000');
  });

  it('sets two runs side by side, platform first, and says when they were not sent or run alike', () => {
    const run = (at: string, rate: number, cpu: Record<string, number>, platform: number) => ({
      at,
      options: { rate, batch: 100, inFlight: 8, mix: 'transactional=1' },
      perSecond: { accepted: rate, submitSm: rate },
      latencyMs: { acceptToSubmit: { count: 9, p50: 10, p99: 40 } },
      cpu: { perMessageMs: cpu, platformPerMessageMs: platform, withChildren: true },
    });
    const before = run('b', 1000, { ingest: 0.3, dlr: 0.4 }, 0.7);
    const after = run('a', 1000, { ingest: 0.25, dlr: 0.4, redis: 0.2 }, 0.85);
    const table = comparisonTable(before, after);
    expect(table).not.toContain('not sent or run alike');
    const rows = table.split('\n').filter((line) => line.startsWith('| CPU'));
    expect(rows).toEqual([
      '| CPU ms a message, platform | 0.7 | 0.85 | +21.4% |',
      '| CPU ms a message, dlr | 0.4 | 0.4 | +0.0% |',
      '| CPU ms a message, ingest | 0.3 | 0.25 | -16.7% |',
      '| CPU ms a message, redis | - | 0.2 |  |',
    ]);
    expect(table).toContain('| callToSubmit p99 ms | - | - |  |');
    expect(table).toContain('| Redis memory a message, bytes | - | - |  |');
    const withMemory = (r: typeof before, bytes: number) => ({
      ...r,
      redisMemoryPerMessage: { bytes, expiredKeys: 0 },
    });
    expect(comparisonTable(withMemory(before, 3400.4), withMemory(after, 2890.6))).toContain(
      '| Redis memory a message, bytes | 3400 | 2891 | -15.0% |',
    );
    expect(comparisonTable(before, run('a', 500, {}, 1))).toContain('not sent or run alike');
    const niced = { ...run('a', 1000, {}, 1), machine: { niced: { dlr: 10 } } };
    expect(comparisonTable(before, niced)).toContain('at nice: dlr 10');
    expect(comparisonTable(before, niced)).toContain('not sent or run alike');
    expect(comparisonTable(niced, niced)).not.toContain('not sent or run alike');
    // A run from before a process's CPU counted its children's (Redis's AOF rewrites).
    const older = { ...before, cpu: { perMessageMs: {}, platformPerMessageMs: 0.7 } };
    expect(comparisonTable(older, before)).toContain('CPU without forked children');
    expect(comparisonTable(older, before)).toContain('not sent or run alike');
  });
  it('sums what a process allocated by package, self only, and names the process', () => {
    const frame = (url: string, functionName = 'f') => ({ url, functionName, lineNumber: 0 });
    const pnpm = 'file:///r/node_modules/.pnpm/ioredis@5.4.1/node_modules/ioredis/built/Command.js';
    const profile = {
      callFrame: frame('', '(root)'),
      selfSize: 0,
      children: [
        {
          callFrame: frame('file:///r/services/dlr/dist/main.js', 'handle'),
          selfSize: 300,
          children: [{ callFrame: frame(pnpm, 'toWritable'), selfSize: 600, children: [] }],
        },
        { callFrame: frame(pnpm, 'toWritable'), selfSize: 100, children: [] },
      ],
    };
    expect(profileAllocation(profile, (f) => codeOf(f.url, f.functionName))).toEqual({
      process: 'dlr',
      total: 1000,
      by: [
        ['ioredis', 700],
        ['services/dlr', 300],
      ],
    });
  });
});
