using System.Diagnostics;

namespace FlowPolicy.Analytics.Graph;

public sealed class GraphvizOptions
{
    /// <summary>The Graphviz `dot` program (Debian package graphviz).</summary>
    public string DotPath { get; init; } = "dot";
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DotPath)) throw new ArgumentException("the dot program path is empty");
        if (Timeout <= TimeSpan.Zero) throw new ArgumentException("the Graphviz timeout must be positive");
    }
}

/// <summary>Thrown when `dot` is missing or fails; the DOT source can still be written for later rendering.</summary>
public sealed class GraphvizException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Renders DOT text to SVG with the Graphviz `dot` program.</summary>
public sealed class GraphvizRenderer
{
    private readonly GraphvizOptions _options;

    public GraphvizRenderer(GraphvizOptions? options = null)
    {
        _options = options ?? new GraphvizOptions();
        _options.Validate();
    }

    public async Task<string> RenderSvgAsync(string dot, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(_options.DotPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-Tsvg");
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new GraphvizException($"could not start '{_options.DotPath}'");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new GraphvizException($"Graphviz '{_options.DotPath}' is not installed (Debian: apt-get install graphviz)", ex);
        }
        using (process)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.Timeout);
            try
            {
                var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
                var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
                await process.StandardInput.WriteAsync(dot.AsMemory(), timeout.Token).ConfigureAwait(false);
                process.StandardInput.Close();
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                var svg = await stdout.ConfigureAwait(false);
                var errors = await stderr.ConfigureAwait(false);
                if (process.ExitCode != 0)
                    throw new GraphvizException($"dot exited with {process.ExitCode}: {errors.Trim()}");
                return svg;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                throw new GraphvizException($"dot did not finish within {_options.Timeout}");
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
        }
    }
}
