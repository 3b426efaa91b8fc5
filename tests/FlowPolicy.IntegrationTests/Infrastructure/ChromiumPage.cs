using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FlowPolicy.IntegrationTests.Infrastructure;

/// <summary>
/// One page of a headless Chromium (Debian's package), driven over the DevTools protocol (CDP) directly: navigate,
/// evaluate script, real mouse clicks and key input (Input.dispatchMouseEvent / insertText), screenshots. The protocol
/// is a JSON-over-WebSocket exchange, so this needs no browser-automation package (Playwright would bring its own
/// browser download); https://chromedevtools.github.io/devtools-protocol/ documents the methods used.
/// </summary>
internal sealed class ChromiumPage : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private ChromiumPage(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>Debian's chromium, or a clear failure naming the package.</summary>
    public static string Executable() => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("This test needs Chromium (deploy/local/install-deps.sh installs the Debian package 'chromium').");

    public static async Task<ChromiumPage> StartAsync(string profile, int width = 1400, int height = 1000)
    {
        Directory.CreateDirectory(profile);
        var start = new ProcessStartInfo(Executable()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile, $"--window-size={width},{height}",
                     "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank" })
            start.ArgumentList.Add(flag);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var page = new ChromiumPage(process, profile);
        try
        {
            // Chromium writes the port it chose into the profile once it listens.
            var portFile = Path.Combine(profile, "DevToolsActivePort");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(portFile) || File.ReadAllLines(portFile).Length < 2)
            {
                if (process.HasExited) throw new InvalidOperationException($"chromium exited {process.ExitCode} before listening");
                if (DateTime.UtcNow > deadline) throw new TimeoutException("chromium did not open its DevTools port in 60 s");
                await Task.Delay(100);
            }
            int port = int.Parse(File.ReadAllLines(portFile)[0], System.Globalization.CultureInfo.InvariantCulture);
            using var http = new HttpClient();
            string? target = null;
            while (target is null)
            {
                var list = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
                target = list.FirstOrDefault(t => (string?)t!["type"] == "page")?["webSocketDebuggerUrl"]?.GetValue<string>();
                if (target is null)
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException("chromium has no page target");
                    await Task.Delay(100);
                }
            }
            await page._socket.ConnectAsync(new Uri(target), CancellationToken.None);
            return page;
        }
        catch
        {
            await page.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends one command and returns its result (events in between are skipped).</summary>
    public async Task<JsonNode?> SendAsync(string method, JsonObject? parameters = null, int timeoutSeconds = 120)
    {
        int id = ++_nextId;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var received = new MemoryStream();
            WebSocketReceiveResult part;
            do
            {
                part = await _socket.ReceiveAsync(buffer, limit.Token);
                received.Write(buffer, 0, part.Count);
            }
            while (!part.EndOfMessage);
            var reply = JsonNode.Parse(received.ToArray())!;
            if ((int?)reply["id"] != id) continue;
            if (reply["error"] is { } error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
            return reply["result"];
        }
    }

    public async Task NavigateAsync(string url) => await SendAsync("Page.navigate", new JsonObject { ["url"] = url });

    /// <summary>Evaluates an expression in the page (awaiting a promise) and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result?["exceptionDetails"] is { } exception) throw new InvalidOperationException($"page script failed: {exception.ToJsonString()}");
        return result?["result"]?["value"];
    }

    /// <summary>Polls <paramref name="expression"/> until it is true; returns the seconds it took.</summary>
    public async Task<double> WaitForAsync(string expression, int timeoutSeconds = 120)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await EvaluateAsync($"!!({expression})");
            if (value?.GetValue<bool>() == true) return clock.Elapsed.TotalSeconds;
            if (clock.Elapsed.TotalSeconds > timeoutSeconds) throw new TimeoutException($"not true after {timeoutSeconds} s: {expression}");
            await Task.Delay(100);
        }
    }

    /// <summary>A left click at viewport coordinates: move, press, release, as a user's mouse does.</summary>
    public async Task ClickAsync(double x, double y)
    {
        foreach (var (type, buttons) in new[] { ("mouseMoved", 0), ("mousePressed", 1), ("mouseReleased", 0) })
            await SendAsync("Input.dispatchMouseEvent", new JsonObject
            {
                ["type"] = type, ["x"] = x, ["y"] = y, ["button"] = type == "mouseMoved" ? "none" : "left", ["buttons"] = buttons, ["clickCount"] = type == "mouseMoved" ? 0 : 1,
            });
    }

    /// <summary>Clicks the middle of the element <paramref name="selector"/> names, scrolled into view first.</summary>
    public async Task ClickElementAsync(string selector)
    {
        var box = await EvaluateAsync($"(() => {{ const el = document.querySelector({JsonSerializer.Serialize(selector)}); el.scrollIntoView({{block: 'center'}}); const r = el.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()")
            ?? throw new InvalidOperationException("no element " + selector);
        await ClickAsync(box[0]!.GetValue<double>(), box[1]!.GetValue<double>());
    }

    /// <summary>Types text into the focused element (Input.insertText fires the input event as typing does).</summary>
    public async Task TypeAsync(string text) => await SendAsync("Input.insertText", new JsonObject { ["text"] = text });

    public async Task<byte[]> ScreenshotAsync()
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        return Convert.FromBase64String(result!["data"]!.GetValue<string>());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open) await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }
        catch (WebSocketException)
        {
            // The browser is killed next anyway.
        }
        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try { Directory.Delete(_profile, recursive: true); }
        catch (IOException) { /* a crash dump still being written; the temp directory is cleaned later */ }
    }
}
