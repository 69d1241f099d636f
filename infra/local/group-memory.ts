// Resident memory of whole process groups: a launcher script that does not exec (the Firestore
// emulator's runs java as its child) holds a few MiB itself, the JVM under it hundreds.
import { readdir, readFile } from 'node:fs/promises';

/** RSS in bytes of every process in each of the groups `leaders` lead; 0 for a group gone. */
export async function groupMemory(leaders: readonly number[]): Promise<number[]> {
  const wanted = new Set(leaders);
  const byGroup = new Map<number, number>();
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  await Promise.all(
    pids.map(async (pid) => {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      // Fields after the command name, which may hold spaces and parentheses: state ppid pgrp.
      const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (!wanted.has(group)) return;
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      byGroup.set(group, (byGroup.get(group) ?? 0) + kb * 1024);
    }),
  );
  return leaders.map((pid) => byGroup.get(pid) ?? 0);
}
