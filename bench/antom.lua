-- antom.lua - wrk script for `make bench`: replays pre-signed, distinct
-- Antom notifications (bench/gen.c) over keep-alive connections, with a
-- share of duplicate deliveries, and counts what was sent and acknowledged.
-- wrk counts a response as a request completed; non-2xx ones separately.
--
-- Environment: ANTOM_BENCH_CORPUS (file from antom-bench-gen),
-- ANTOM_BENCH_THREADS (wrk -t), ANTOM_BENCH_DUP (share of duplicates, 0..1),
-- ANTOM_BENCH_FIRST and ANTOM_BENCH_COUNT (0 and all: the corpus's lines
-- this run sends, so that a warm-up and the measured run that follows it
-- on the same database never send the same notification),
-- ANTOM_BENCH_PACE_MS (0: each connection sends its next request as soon
-- as the answer to its last arrives; N: N ms later, a load below what
-- antomd can take, whose latency is not its queue's).

local threads = {}
local nstarted = 0

-- wrk calls delay() before each request when the script defines it.
local pace = tonumber(os.getenv("ANTOM_BENCH_PACE_MS") or "0")
if pace > 0 then
	function delay()
		return pace
	end
end

function setup(thread)
	thread:set("id", nstarted)
	nstarted = nstarted + 1
	table.insert(threads, thread)
end

function init(args)
	local corpus = os.getenv("ANTOM_BENCH_CORPUS")
	local nthreads = tonumber(os.getenv("ANTOM_BENCH_THREADS"))
	dup_share = tonumber(os.getenv("ANTOM_BENCH_DUP") or "0.1")
	reqs = {}
	local first = tonumber(os.getenv("ANTOM_BENCH_FIRST") or "0")
	local last = first + tonumber(os.getenv("ANTOM_BENCH_COUNT") or "1e18")
	local i = 0
	-- Thread k takes every nthreads-th line: partitions never overlap.
	for line in io.lines(corpus) do
		if i >= last then break end
		if i >= first and i % nthreads == id then
			local client, rtime, sig, body =
			    line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
			reqs[#reqs + 1] = wrk.format("POST", nil, {
				["Content-Type"] = "application/json",
				["client-id"] = client,
				["request-time"] = rtime,
				["signature"] = sig,
			}, body)
		end
		i = i + 1
	end
	nextnew = 1
	sent, distinct, dups, exhausted = 0, 0, 0, 0
	math.randomseed(id * 7919 + 17)
end

function request()
	sent = sent + 1
	if nextnew > 1 and (math.random() < dup_share or nextnew > #reqs) then
		if nextnew > #reqs then exhausted = exhausted + 1 end
		dups = dups + 1
		return reqs[math.random(1, nextnew - 1)]
	end
	local r = reqs[nextnew]
	nextnew = nextnew + 1
	distinct = distinct + 1
	return r
end

function done(summary, latency, requests)
	local t = { sent = 0, distinct = 0, dups = 0, exhausted = 0 }
	for _, th in ipairs(threads) do
		for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
	end
	-- No response() callback (it makes wrk parse every body): wrk counts
	-- answers that are not 2xx in errors.status; antomd's only 2xx is 200.
	local e = summary.errors
	t.bad = e.status
	t.ok = summary.requests - e.status
	io.write(string.format("RESULT sent=%d distinct=%d dups=%d ok=%d " ..
	    "non200=%d exhausted=%d errors=%d duration_us=%d " ..
	    "p50_us=%d p99_us=%d max_us=%d\n",
	    t.sent, t.distinct, t.dups, t.ok, t.bad, t.exhausted,
	    e.connect + e.read + e.write + e.timeout, summary.duration,
	    latency:percentile(50), latency:percentile(99), latency.max))
end
