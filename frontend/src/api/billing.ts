/** Price table and budgets (administrators). Money is integer micro-dollars. */
import { client, unwrap } from '@/api/client'
import type { BudgetLimits, PricesUpdate } from '@/api/types'

const forUser = (user_id: string) => ({ params: { path: { user_id } } })

export const billingApi = {
  prices: () => unwrap(client.GET('/api/admin/prices')),
  putPrices: (body: PricesUpdate) => unwrap(client.PUT('/api/admin/prices', { body })),
  defaults: () => unwrap(client.GET('/api/admin/budgets/defaults')),
  updateDefaults: (body: BudgetLimits) => unwrap(client.PATCH('/api/admin/budgets/defaults', { body })),
  userBudget: (id: string) => unwrap(client.GET('/api/admin/budgets/users/{user_id}', forUser(id))),
  updateUserBudget: (id: string, body: BudgetLimits) =>
    unwrap(client.PATCH('/api/admin/budgets/users/{user_id}', { ...forUser(id), body })),
  resetUserBudget: (id: string) => unwrap(client.DELETE('/api/admin/budgets/users/{user_id}', forUser(id))),
}
