-- wrk script: every request submits a different job (a new command), so each one is a new row.
-- wrk -s submit_distinct.lua http://127.0.0.1:PORT/q/QUEUE   (QUEUE in the path; RUN tag in WRK_RUN env)
local counter = 0
local thread_id = 0
local run = os.getenv("WRK_RUN") or "r"
local threads = {}

function setup(thread)
    thread:set("thread_id", #threads)
    table.insert(threads, thread)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
    counter = counter + 1
    local body = '{"definition":{"image":"asman/busybox:latest","command":"echo ' .. run .. '-' .. thread_id .. '-' .. counter .. '"}}'
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    if status ~= 200 then
        io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    end
end
