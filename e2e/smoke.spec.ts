import { expect, test } from '@playwright/test';

test('the page gets a WebGPU adapter and reads back a compute result from the worker', async ({ page }) => {
  await page.goto('/');
  const selftest = page.getByTestId('selftest');
  await expect(selftest).toHaveAttribute('data-ok', 'true');
  await page.screenshot({ path: 'test-results/smoke.png', fullPage: true });
});

test('without WebGPU the page explains browser support', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
    // `'gpu' in navigator` must be false too:
    delete (Navigator.prototype as unknown as Record<string, unknown>).gpu;
  });
  await page.goto('/');
  await expect(page.getByTestId('no-webgpu')).toBeVisible();
  await expect(page.getByTestId('no-webgpu')).toContainText('Chrome');
  await expect(page.getByTestId('no-webgpu')).toContainText('Safari');
  await page.screenshot({ path: 'test-results/screens/no-webgpu.png', fullPage: true });
});
