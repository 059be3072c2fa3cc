/** Where a command writes: the process's streams in use, buffers in tests. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (progress bars are drawn only then). */
  isTTY: boolean;
  columns: number;
}

export const processOutput: Output = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
  columns: process.stdout.columns ?? 80,
};

export const formatCount = (value: number) => value.toLocaleString('en-US');

/** A one-line bar redrawn in place; on anything but a terminal it draws nothing. */
export function progressBar(output: Output) {
  let drawn = false;
  return {
    update(label: string, done: number, total: number) {
      if (!output.isTTY) return;
      const ratio = total > 0 ? Math.min(1, done / total) : 1;
      const width = Math.max(10, Math.min(40, output.columns - 60));
      const filled = Math.round(ratio * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      output.out(`\r\x1b[2K${label.padEnd(22)} [${bar}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${formatCount(done)}/${formatCount(total)}`);
      drawn = true;
    },
    clear() {
      if (drawn) output.out('\r\x1b[2K');
      drawn = false;
    },
  };
}

/** Left-aligned columns, for the small tables the commands print. */
export function table(rows: string[][]): string {
  const widths = rows.reduce<number[]>((max, row) => row.map((cell, index) => Math.max(max[index] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  ').trimEnd()).join('\n');
}
