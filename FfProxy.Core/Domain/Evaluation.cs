namespace FfProxy.Core.Domain;

/// <summary>One element of the <c>/evaluations</c> response.</summary>
public sealed record Evaluation(string Flag, string Identifier, string Kind, string Value);
