"""Portfolio margin: scenarios, risk arrays, margin, queries, the solvency form."""
