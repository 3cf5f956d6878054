import { ref } from 'vue'
import { defineStore } from 'pinia'
import { billingApi } from '@/api/billing'
import type { BudgetLimits, Prices, PricesUpdate, UserBudget } from '@/api/types'

/** Administration of costs: the price table and budgets. */
export const useBillingStore = defineStore('billing', () => {
  const prices = ref<Prices | null>(null)
  const defaults = ref<BudgetLimits | null>(null)
  const userBudget = ref<UserBudget | null>(null)

  async function loadPrices(): Promise<void> {
    prices.value = await billingApi.prices()
  }
  async function savePrices(body: PricesUpdate): Promise<void> {
    prices.value = await billingApi.putPrices(body)
  }
  async function loadDefaults(): Promise<void> {
    defaults.value = await billingApi.defaults()
  }
  const fetchDefaults = () => billingApi.defaults()
  async function saveDefaults(body: BudgetLimits): Promise<void> {
    defaults.value = await billingApi.updateDefaults(body)
  }
  async function loadUser(id: string): Promise<void> {
    userBudget.value = null
    userBudget.value = await billingApi.userBudget(id)
  }
  async function saveUser(id: string, body: BudgetLimits): Promise<void> {
    userBudget.value = await billingApi.updateUserBudget(id, body)
  }
  async function resetUser(id: string): Promise<void> {
    userBudget.value = await billingApi.resetUserBudget(id)
  }

  return { prices, defaults, userBudget, loadPrices, savePrices, loadDefaults, fetchDefaults, saveDefaults, loadUser, saveUser, resetUser }
})
