// Option parsers shared by every `sightline` subcommand, so each flag is checked one way.
import { InvalidArgumentError } from 'commander';

export const positiveInt = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number`);
  return n;
};

export const positiveIntList = (v: string): number[] => v.split(',').map((s) => positiveInt('each size')(s.trim()));

export const regionOption = (v: string): { x: number; y: number; width: number; height: number } => {
  const parts = v.split(',').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p)) || parts[2] <= 0 || parts[3] <= 0) {
    throw new InvalidArgumentError('--region takes x,y,width,height in image pixels');
  }
  return { x: parts[0], y: parts[1], width: parts[2], height: parts[3] };
};
