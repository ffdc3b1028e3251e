import type { Whoami } from '../api';

export interface ViewContext {
  who: Whoami;
  status: (s: string) => void;
}

// A view renders once into its element, then refreshes in place (live updates) until disposed.
export interface View {
  title: string;
  every_ms?: number;
  render(root: HTMLElement): Promise<void>;
  refresh?(): Promise<void>;
  dispose?(): void;
}
